"""``text-encoder``: zeroshot's text matching with a sentence encoder first tuned on the training
interactions (:mod:`lmrec.text.tuning`).

``lmrec train -d amazon-games+amazon-office -m text-encoder -o runs/enc`` tunes the encoder on
every position of the sources' training sequences (validation: their validation items), and the
folder holds the tuned sentence-transformers model in ``encoder/``, which any text model then
loads by path: ``lmrec evaluate -d amazon-scientific -m zeroshot --set encoder=runs/enc/encoder``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import ConfigDict, Field

from lmrec.core.fitted import ModelContext
from lmrec.data.containers import Interactions
from lmrec.errors import ConfigError
from lmrec.models.zeroshot.model import ZeroShotConfig, ZeroShotTextRecommender
from lmrec.protocols.base import EvalCases
from lmrec.text.tuning import (
    EncoderTuningConfig,
    TuningCase,
    TuningReport,
    cases_from_sequences,
    tune_encoder,
)

if TYPE_CHECKING:
    from lmrec.core.checkpoint import ModelLoader
    from lmrec.text.encoders import Encoder

ENCODER_DIR = "encoder"


class TextEncoderConfig(ZeroShotConfig):
    """zeroshot's options plus how the encoder is tuned (``tuning``)."""

    model_config = ConfigDict(extra="forbid")

    tuning: EncoderTuningConfig = Field(default_factory=EncoderTuningConfig)


def tuning_data(
    train: Interactions, valid: EvalCases | None, texts: Sequence[str], history: int
) -> tuple[list[TuningCase], list[TuningCase], list[tuple[str, float]]]:
    """Training cases from every position of the training sequences, held-out cases from the
    validation items, and each trained item's text with its count (for sampled negatives);
    ``texts[i]`` is the text of item index ``i``."""
    rows = train.sequences()
    cases = cases_from_sequences([[texts[i] for i in rows[r]] for r in range(len(rows))], history)
    held_out: list[TuningCase] = []
    if valid is not None:
        for row in range(len(valid)):
            before = [texts[i] for i in valid.histories[row][-history:]]
            if before:
                held_out.append(TuningCase(tuple(before), texts[int(valid.targets[row])]))
    counts = train.item_counts()
    popularity = [(texts[i], float(c)) for i, c in enumerate(counts) if c > 0]
    return cases, held_out, popularity


class TunedTextRecommender(ZeroShotTextRecommender):
    """Tunes ``config.tuning.base`` on next-item prediction, then ranks as zeroshot does with it."""

    name: ClassVar[str] = "text-encoder"
    config_type: ClassVar[type[ZeroShotConfig]] = TextEncoderConfig

    def __init__(
        self, config: TextEncoderConfig | None = None, context: ModelContext | None = None
    ) -> None:
        super().__init__(config or TextEncoderConfig(), context)
        self.tuned: Path | None = None
        self.report: TuningReport | None = None

    @property
    def encoder(self) -> Encoder:
        """The tuned encoder (never a shared one from the context: its vectors are the point)."""
        from lmrec.text.encoders import create_encoder

        if self._encoder is None:
            self._encoder = create_encoder(self.config.encoder, threads=self.config.threads)
        return self._encoder

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> TunedTextRecommender:
        from lmrec.data.templates import item_template

        catalog = self.context.catalog
        if catalog is None:
            raise ConfigError("text-encoder needs an item catalogue with text")
        assert isinstance(self.config, TextEncoderConfig)
        tuning = self.config.tuning
        template = item_template(self.context.dataset, catalog, self.config.template)
        texts = template.render(catalog, train.item_vocab.ids)
        cases, held_out, popularity = tuning_data(train, valid, texts, tuning.history)
        self.tuned = Path(tempfile.mkdtemp(prefix="lmrec-encoder-"))
        self.report = tune_encoder(
            cases, held_out, popularity, tuning, self.tuned, progress=self.context.progress
        )
        self.config = self.config.model_copy(update={"encoder": str(self.tuned)})
        self._encoder = None
        super().fit(train, valid)
        return self

    def save(self, directory: Path) -> None:
        """zeroshot's folder, with the tuned sentence-transformers model in ``encoder/``."""
        if self.tuned is None:
            raise ConfigError("text-encoder: fit the model before saving it")
        target = directory / ENCODER_DIR
        directory.mkdir(parents=True, exist_ok=True)
        if target.resolve() != self.tuned.resolve():
            shutil.copytree(self.tuned, target, dirs_exist_ok=True)
        self.config = self.config.model_copy(update={"encoder": str(target.resolve())})
        self.tuned = target
        self._encoder = None
        super().save(directory)

    @classmethod
    def load(
        cls, directory: Path, context: ModelContext | None = None, member: ModelLoader | None = None
    ) -> TunedTextRecommender:
        model = cls.restore(
            directory, context, {"encoder": str((directory / ENCODER_DIR).resolve())}
        )
        model.tuned = directory / ENCODER_DIR
        return model
