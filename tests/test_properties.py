"""Generated inputs, one suite per surface: logs, candidate files, option sets, request bodies.

Each asserts "refused with a message naming the place, or accepted and equal to what a plain
reference reader gives": never a traceback, never a shifted column, never a 500. CI runs the
counts below; ``LMREC_EXAMPLES=20`` runs twenty times as many (the count in the issue note).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmrec.data.errors import DataFormatError
from lmrec.errors import ConfigError

SCALE = int(os.environ.get("LMREC_EXAMPLES", "1"))


def examples(n: int) -> Any:
    return settings(max_examples=n * SCALE, deadline=None, suppress_health_check=list(HealthCheck))


# -- logs ----------------------------------------------------------------------------------

cell = st.one_of(
    st.text(alphabet="ab1 ,\"'\t\n;é\x00\x7f", max_size=6),
    st.integers(-5, 99).map(str),
    st.sampled_from(["", " ", "2024-01-02", "12/01/2024", "nan", "1e400"]),
)
rows = st.lists(st.lists(cell, min_size=2, max_size=4), min_size=1, max_size=6)


def as_csv(header: list[str], body: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue()


def reference(text: str) -> tuple[list[str], list[str], list[float]] | None:
    """What the log must read as, by the csv module and plain rules (``None``: must be refused)."""
    records = [r for r in csv.reader(io.StringIO(text)) if r][1:]
    if any(len(r) != 3 for r in records):
        return None
    users, items = [r[0] for r in records], [r[1] for r in records]
    for value in users + items:
        if not value.strip() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            return None
        if value != value.strip():  # accepted only without a clash; leave these to the reader
            return None
    try:
        times = [float(r[2]) for r in records]
    except ValueError:
        return None  # dates are the other suite's; here every time is a number or refused
    if not all(math.isfinite(t) for t in times):
        return None
    return users, items, times


@examples(150)
@given(body=rows)
def test_a_generated_log_is_refused_naming_a_line_or_read_as_written(
    tmp_path_factory: Any, body: list[list[str]]
) -> None:
    from lmrec.data.tabular import ColumnMapping, read_table

    text = as_csv(["who", "what", "when"], body)
    path = Path(tmp_path_factory.mktemp("log")) / "log.csv"
    path.write_text(text, encoding="utf-8")
    expected = reference(text)
    try:
        log = read_table(path, ColumnMapping("who", "what", "when"))
    except DataFormatError as exc:
        assert str(path) in str(exc) and (exc.line is not None or exc.column_name is not None)
        return
    if expected is None:
        # a date column or spaced ids the reference does not model: it must still be exact
        assert all(len(r) == 3 for r in csv.reader(io.StringIO(text)) if r)
        return
    users, items, times = expected
    assert list(log.user_vocab.decode(log.users)) == users
    assert list(log.item_vocab.decode(log.items)) == items
    assert [float(t) for t in log.timestamps] == times


dates = st.lists(
    st.tuples(st.integers(1, 28), st.integers(1, 12), st.integers(2000, 2030)), min_size=1
)


@examples(100)
@given(days=dates)
def test_slash_dates_are_read_one_way_for_the_whole_column(
    tmp_path_factory: Any, days: list[tuple[int, int, int]]
) -> None:
    import datetime as dt

    from lmrec.data.tabular import ColumnMapping, read_table

    body = "".join(f"u,i{n},{d:02d}/{m:02d}/{y}\n" for n, (d, m, y) in enumerate(days))
    path = Path(tmp_path_factory.mktemp("dates")) / "log.csv"
    path.write_text("who,what,when\n" + body, encoding="utf-8")
    try:
        log = read_table(path, ColumnMapping("who", "what", "when"))
    except DataFormatError as exc:
        assert "ambiguous dates" in str(exc) and all(d <= 12 for d, _, _ in days)
        return
    day_first = [dt.datetime(y, m, d, tzinfo=dt.timezone.utc).timestamp() for d, m, y in days]
    month_first = [
        dt.datetime(y, d, m, tzinfo=dt.timezone.utc).timestamp() if d <= 12 else None
        for d, m, y in days
    ]
    got = [float(t) for t in log.timestamps]
    assert got in (day_first, month_first)  # one reading for every row, never a mix


# -- candidate files -----------------------------------------------------------------------

ITEMS = [str(i) for i in range(1, 60)]


@examples(60)
@given(
    lists=st.lists(
        st.lists(st.sampled_from([*ITEMS, "zz"]), min_size=1, max_size=25), min_size=4, max_size=4
    ),
    protocol=st.sampled_from(["llmrank-20", "candidates"]),
)
def test_candidate_rows_are_distinct_known_and_as_many_as_the_protocol_needs(
    tmp_path_factory: Any, lists: list[list[str]], protocol: str
) -> None:
    import numpy as np

    from lmrec.data.containers import Dataset, Interactions, Vocabulary
    from lmrec.experiment.run import prepare
    from lmrec.protocols.named import named_protocol

    users = Vocabulary("user", ("a", "b", "c", "d"))
    vocab = Vocabulary("item", tuple(ITEMS))
    u = np.repeat(np.arange(4, dtype=np.int32), 3)
    i = np.arange(12, dtype=np.int32)
    inter = Interactions(u, i, np.tile(np.arange(3.0), 4), users, vocab)
    folder = Path(tmp_path_factory.mktemp("cand"))
    text = "".join(f"{user}\t{' '.join(row)}\n" for user, row in zip("abcd", lists, strict=True))
    (folder / "c.random").write_text(text, encoding="utf-8")
    try:
        named = named_protocol(protocol, file=folder / "c.random")
        cases = prepare(Dataset("x", inter), named).cases
    except DataFormatError as exc:
        assert "c.random" in str(exc) and exc.line is not None
        return
    candidates = cases.candidates
    assert candidates is not None
    for row, target in zip(candidates, cases.targets, strict=True):
        real = row[row >= 0]
        assert len(set(real.tolist())) == len(real)  # distinct items, always
        if protocol == "llmrank-20":
            assert len(real) == 20 and target in real


# -- option sets ---------------------------------------------------------------------------

values = st.one_of(
    st.booleans(),
    st.integers(-3, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.none(),
)


@examples(200)
@given(options=st.dictionaries(st.sampled_from(["neighbors", "shrink", "decay", "x"]), values))
def test_a_generated_option_set_is_refused_naming_it_or_taken_as_given(
    options: dict[str, Any],
) -> None:
    from lmrec.models.registry import model_spec, validate_config

    try:
        config = validate_config(model_spec("itemknn"), options)
    except ConfigError as exc:
        assert "itemknn" in str(exc) and any(k in str(exc) for k in options)
        return
    for key, value in options.items():
        assert not isinstance(value, bool) and value is not None
        taken = getattr(config, key)
        assert isinstance(taken, int | float) and math.isfinite(taken) and taken == float(value)
    assert config.neighbors >= 0 and config.shrink >= 0 and 0 < config.decay <= 1


# -- request bodies ------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(),
        st.text(max_size=5),
        st.sampled_from(["u1", "10", "60", "click", "rating", "\ud800", "a\x00"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = {
    "/recommend": ["user_id", "history", "text", "k", "exclude", "exclude_history", "explain"],
    "/feedback": ["user_id", "item_id", "kind", "value", "timestamp", "idempotency_key"],
    "/why": ["user_id", "item_id"],
}


@pytest.fixture(scope="module")
def http(tmp_path_factory: Any) -> Any:
    from fastapi.testclient import TestClient

    from lmrec.models.classic.itemknn import ItemKNN
    from lmrec.service.api import create_app
    from lmrec.service.engine import RecommendService
    from lmrec.service.store import Store
    from service_helpers import tiny_dataset

    folder = Path(tmp_path_factory.mktemp("svc"))
    ds = tiny_dataset(folder)
    store = Store.open(f"sqlite:///{folder / 's.sqlite'}")
    store.import_dataset(ds)
    service = RecommendService(ds, ItemKNN().fit(ds.interactions), store, model_name="itemknn")
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        yield client
    service.close()


@examples(150)
@given(
    route=st.sampled_from(sorted(FIELDS)),
    body=st.data(),
)
def test_a_generated_request_body_is_answered_never_a_500(http: Any, route: str, body: Any) -> None:
    keys = st.sampled_from(FIELDS[route] + ["extra"])
    drawn = body.draw(st.dictionaries(keys, json_values, max_size=5))
    raw = json.dumps(drawn, allow_nan=True)
    answer = http.post(route, content=raw, headers={"content-type": "application/json"})
    assert answer.status_code in (200, 404, 409, 422), (raw, answer.status_code, answer.text)
    if answer.status_code != 200:
        assert "detail" in answer.json()
