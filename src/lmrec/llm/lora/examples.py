"""Binary preference examples (the TALLRec task) and the Alpaca-style JSON files they travel in.

An example is a user's previous ``n_history`` rated items, split into liked (rating above the
threshold) and disliked, and a target item; its label says whether the user liked the target.
Examples are made for every position of every user's time-ordered ratings that has ``n_history``
items before it, then split on the target's timestamp (oldest 80% train, next 10% validation,
latest 10% test), so every evaluated example comes after every training one.

Files hold a JSON list of ``{"instruction", "input", "output"}`` objects, ``output`` being
``"Yes."`` or ``"No."``; TALLRec publishes its examples the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lmrec.data.containers import Dataset, ItemCatalog
from lmrec.data.errors import DataError

INSTRUCTION = (
    "Given the movies a user liked and disliked, answer whether the user will like the target "
    'movie with "Yes." or "No.".'
)


@dataclass(frozen=True)
class PreferenceExample:
    """One question: ``input`` names the history and the target; ``label`` is True for "Yes"."""

    instruction: str
    input: str
    label: bool
    user: str = ""
    item: str = ""
    history: tuple[str, ...] = ()  # item ids, oldest first (empty for examples read from a file)
    liked: tuple[bool, ...] = ()  # per history item: rated above the threshold
    time: float = 0.0
    titles: tuple[str, ...] = ()  # per history item (for rephrasing, lmrec.llm.lora.phrasing)
    target_title: str = ""
    answers: tuple[str, str] = ("Yes", "No")  # the words for True and False

    @property
    def prompt(self) -> str:
        return f"{self.instruction}\n{self.input}\n" if self.input else f"{self.instruction}\n"

    def to_json(self) -> dict[str, str]:
        return {
            "instruction": self.instruction,
            "input": self.input,
            "output": f"{self.answers[0] if self.label else self.answers[1]}.",
        }


@dataclass(frozen=True)
class PreferenceSplit:
    train: tuple[PreferenceExample, ...]
    valid: tuple[PreferenceExample, ...]
    test: tuple[PreferenceExample, ...]


def _quoted(titles: Sequence[str]) -> str:
    return ", ".join(f'"{t}"' for t in titles) if titles else "none"


def titles_with_year(catalog: ItemCatalog | None, item_ids: Sequence[str]) -> list[str]:
    """Each item's title, with its year in brackets when the catalogue has a release_year."""
    if catalog is None:
        return list(item_ids)
    row = {id_: i for i, id_ in enumerate(catalog.ids.ids)}
    title = catalog.field(catalog.title_field) if catalog.title_field else None
    year = catalog.field("release_year") if "release_year" in catalog.field_names else None
    out = []
    for id_ in item_ids:
        i = row.get(id_)
        if i is None or title is None:
            out.append(id_)
            continue
        text = title.text(i)
        when = year.text(i) if year is not None else ""
        out.append(f"{text} ({when})" if when else text)
    return out


def preference_examples(
    dataset: Dataset, n_history: int = 10, threshold: float = 3.0
) -> list[PreferenceExample]:
    """Every (previous ``n_history`` ratings → target) example of the log, oldest target first."""
    log = dataset.interactions
    if log.ratings is None:
        raise DataError(f"{dataset.name}: binary preference examples need ratings; it has none")
    order = np.lexsort((log.timestamps, log.users))
    users, items = log.users[order], log.items[order]
    times, ratings = log.timestamps[order], log.ratings[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    out: list[PreferenceExample] = []
    item_ids = log.item_vocab.ids
    user_ids = log.user_vocab.ids
    titles = titles_with_year(dataset.catalog, item_ids)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        for t in range(start + n_history, end):
            past = range(t - n_history, t)
            liked = [titles[items[i]] for i in past if ratings[i] > threshold]
            disliked = [titles[items[i]] for i in past if ratings[i] <= threshold]
            target = item_ids[items[t]]
            text = (
                f"Liked: {_quoted(liked)}\nDisliked: {_quoted(disliked)}\n"
                f'Target movie: "{titles[items[t]]}"'
            )
            out.append(
                PreferenceExample(
                    INSTRUCTION,
                    text,
                    bool(ratings[t] > threshold),
                    user_ids[users[t]],
                    target,
                    tuple(item_ids[items[i]] for i in past),
                    tuple(bool(ratings[i] > threshold) for i in past),
                    float(times[t]),
                    tuple(titles[items[i]] for i in past),
                    titles[items[t]],
                )
            )
    out.sort(key=lambda e: e.time)  # stable: ties keep user order
    return out


def split_by_time(
    examples: Sequence[PreferenceExample], valid: float = 0.1, test: float = 0.1
) -> PreferenceSplit:
    """Oldest ``1 - valid - test`` of the examples train, then validation, then test."""
    n = len(examples)
    cut_test = n - round(n * test)
    cut_valid = cut_test - round(n * valid)
    return PreferenceSplit(
        tuple(examples[:cut_valid]),
        tuple(examples[cut_valid:cut_test]),
        tuple(examples[cut_test:]),
    )


def sample(
    examples: Sequence[PreferenceExample], n: int, seed: int
) -> tuple[PreferenceExample, ...]:
    """``n`` examples drawn without replacement with ``seed`` (all of them when there are fewer)."""
    if n >= len(examples):
        return tuple(examples)
    picked = np.random.default_rng(seed).choice(len(examples), size=n, replace=False)
    return tuple(examples[i] for i in np.sort(picked))


def write_examples(examples: Sequence[PreferenceExample], path: Path) -> None:
    path.write_text(json.dumps([e.to_json() for e in examples], indent=1, ensure_ascii=False))


def read_examples(path: Path, answers: tuple[str, str] = ("Yes", "No")) -> list[PreferenceExample]:
    """A JSON list of Alpaca-style instruction/input/output objects (``input`` may be missing or
    empty), ``output`` one of the two ``answers`` (case and a final full stop ignored); errors
    name the file and the entry."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from exc
    if not isinstance(data, list) or not data:
        raise DataError(f"{path}: expected a non-empty JSON list of examples")
    words = [a.strip().rstrip(".").strip().lower() for a in answers]
    if not all(words) or words[0] == words[1]:
        raise DataError(f"answer words must be two different words, not {list(answers)}")
    out = []
    for i, entry in enumerate(data):
        where = f"{path}: example {i}"
        if not isinstance(entry, dict):
            raise DataError(f"{where}: expected an object with instruction, input, output")
        missing = [k for k in ("instruction", "output") if not isinstance(entry.get(k), str)]
        if not isinstance(entry.get("input", ""), str):
            missing.append("input")
        if missing:
            raise DataError(f"{where}: missing or non-text field(s) {', '.join(missing)}")
        answer = entry["output"].strip().rstrip(".").strip().lower()
        if answer not in words:
            raise DataError(
                f'{where}: output must be "{answers[0]}" or "{answers[1]}", not '
                f"{entry['output']!r} (other answer words: llm-score --answers)"
            )
        out.append(
            PreferenceExample(
                entry["instruction"],
                entry.get("input", ""),
                answer == words[0],
                answers=answers,
            )
        )
    return out


def auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Area under the ROC curve (the Mann–Whitney statistic; tied scores count one half)."""
    from scipy.stats import rankdata

    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        raise DataError("AUC needs both positive and negative examples")
    ranks = rankdata(s)
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def auc_interval(
    labels: npt.ArrayLike,
    scores: npt.ArrayLike,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUC: examples drawn with replacement ``resamples``
    times (draws with a single class are redrawn, so every draw has an AUC)."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    if not 0 < int(y.sum()) < len(y):
        raise DataError("AUC needs both positive and negative examples")
    rng = np.random.default_rng(seed)
    found: list[float] = []
    while len(found) < resamples:
        rows = rng.integers(0, len(y), len(y))
        if 0 < int(y[rows].sum()) < len(rows):
            found.append(auc(y[rows], s[rows]))
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(found, [tail, 100 - tail])
    return float(low), float(high)
