"""TextSeqRec: a transferable sequence model over language-model item representations.

Items are represented by frozen sentence-encoder vectors of their catalogue text (through the
embedding cache). A trainable adapter (parametric whitening + mixture of experts, as in UniSRec)
maps them into a causal Transformer; the next item is scored against the adapted vectors of every
item, so items unseen in training are scorable because they have text. Item-ID embeddings can be
added for in-domain training (``ids: true``).

One class covers every mode; the mode is configuration:

- **in-domain**: ``ids: true``, trained from scratch;
- **zero-shot transfer**: ``pretrained: DIR`` (a model saved on another domain) and ``tune: none``;
  the target catalogue's text is encoded, the whitening biases are moved to its mean text vector
  (``recenter``), and no target interaction trains anything;
- **few-shot, parameter-efficient**: ``pretrained: DIR`` and ``tune: adapter`` or
  ``adapter+lora`` (``lora_rank``);
- **distillation**: ``teacher: DIR`` (a saved TextSeqRec over the same items) trains a smaller
  student on the teacher's score distributions and the labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from lmrec.core.fitted import FittedState, ModelContext
from lmrec.data.containers import Interactions, ItemCatalog
from lmrec.data.errors import DataError
from lmrec.errors import ConfigError
from lmrec.models.sequential.model import SequenceModel
from lmrec.models.textseq.config import TextSeqRecConfig
from lmrec.protocols.base import EvalCases

if TYPE_CHECKING:
    import torch

    from lmrec.models.textseq.networks import TextSeqNetwork
    from lmrec.training.network import SequenceNetwork


class TextSeqRec(SequenceModel[TextSeqRecConfig]):
    """Frozen text vectors → MoE adapter → Transformer → scores against adapted item vectors."""

    name: ClassVar[str] = "textseq"
    config_type: ClassVar[type[BaseModel]] = TextSeqRecConfig
    scores_from_text: ClassVar[bool] = True  # every item is scored through its text vector

    def __init__(
        self, config: TextSeqRecConfig | None = None, context: ModelContext | None = None
    ) -> None:
        super().__init__(context)
        self.config: TextSeqRecConfig = config or TextSeqRecConfig()
        self.context = context or ModelContext()
        self.text: npt.NDArray[np.float32] = np.empty((0, 0), dtype=np.float32)

    # -- text ---------------------------------------------------------------------------------

    def encode_items(self, item_ids: list[str]) -> npt.NDArray[np.float32]:
        """Sentence vectors of the items' catalogue text (through the embedding cache)."""
        from lmrec.data.templates import item_template
        from lmrec.text.cache import EmbeddingCache
        from lmrec.text.encoders import create_encoder

        catalog = self.context.catalog
        if catalog is None:
            raise ConfigError("TextSeqRec needs an item catalogue with text (ModelContext.catalog)")
        texts = item_template(self.context.dataset, catalog, self.config.template).render(
            catalog, item_ids
        )
        encoder = self.context.encoder or create_encoder(
            self.config.encoder, threads=self.config.threads
        )
        vectors, _ = EmbeddingCache(self.context.cache_dir).encode(
            encoder, texts, self.context.progress
        )
        return vectors.astype(np.float32)

    # -- fitting ------------------------------------------------------------------------------

    def build_network(self, n_items: int) -> SequenceNetwork:
        return self.build_text_network(n_items)

    def build_text_network(self, n_items: int) -> TextSeqNetwork:
        import torch

        from lmrec.models.textseq.networks import TextSeqNetwork
        from lmrec.models.textseq.tuning import add_lora

        if len(self.text) != n_items:
            raise RuntimeError(f"{len(self.text)} text vectors for {n_items} items")
        c = self.config
        net = TextSeqNetwork(
            torch.from_numpy(self.text),
            c.architecture(),
            ids=c.ids,
            dropout=c.dropout,
            prior_weight=c.prior_weight,
            segments=self.item_segments(),
        )
        if c.tune == "adapter+lora":
            add_lora(net, c.lora_rank)
        if c.id_fallback or not c.new_item_negatives:
            seen = torch.from_numpy(self.fitted_state().seen.copy())
            net.use_known_ids(seen, c.id_fallback, c.id_dropout, not c.new_item_negatives)
        net.transformer_weight = c.transformer_weight
        return net

    def fit(self, train: Interactions, valid: EvalCases | None = None) -> TextSeqRec:
        import torch

        from lmrec.training.distill import Distillation
        from lmrec.training.trainer import TrainReport

        state = FittedState.from_train(train)
        self._state = state
        source = TextSeqRec.load(Path(self.config.pretrained)) if self.config.pretrained else None
        if source is not None:
            self.config = self.config.with_architecture(source.config.architecture())
            self.config = self.config.model_copy(update={"encoder": self.source_encoder(source)})
        self.text = self.encode_items(list(state.item_vocab.ids))
        torch.manual_seed(self.config.train.seed)
        net = self.build_text_network(len(state.item_vocab))
        if source is not None:
            self.transfer_weights(source, net)
        self.net = net
        if self.config.tune == "none":  # the config made sure there is a source
            self.report = TrainReport((), 0, None, 0.0, "no training (tune=none)")
            return self
        freeze(net, self.config.tune)
        distill = None
        if self.config.teacher:
            teacher = TextSeqRec.load(Path(self.config.teacher))
            self.check_teacher(teacher)
            c = self.config
            distill = Distillation(
                teacher.network(), c.distill_weight, c.distill_temperature, c.distill_top_k
            )
        self.report = self.train_network(valid, distill)
        return self

    def source_encoder(self, source: TextSeqRec) -> str:
        """The sentence encoder a pretrained model was trained with: its weights only mean
        something on that encoder's vectors, so an unset ``encoder`` takes it and a different one
        is refused."""
        from lmrec.text.encoders import folder_digest

        theirs, ours = source.config.encoder, self.config.encoder
        if "encoder" not in self.config.model_fields_set or ours == theirs:
            return theirs
        a, b = Path(ours), Path(theirs)
        if a.is_dir() and b.is_dir() and folder_digest(a) == folder_digest(b):
            return ours  # the same encoder, moved
        raise ConfigError(
            f"encoder: {ours!r}, but {self.config.pretrained} was trained on {theirs!r} "
            f"vectors; leave encoder unset or set it to {theirs!r}"
        )

    def item_segments(self) -> list[int]:
        if not self.config.domains:
            return []
        from lmrec.data.joint import domain_bounds

        return domain_bounds(self.fitted_state().item_vocab.ids)

    def transfer_weights(self, source: TextSeqRec, net: TextSeqNetwork) -> None:
        """Copy ``source``'s weights into ``net`` (built for this model's items): item-ID rows by
        matching id (new items keep their fresh rows), whitening biases moved to this catalogue."""
        import torch

        weights = dict(source.network().state_dict())
        own = net.items.weight.detach().clone()
        if self.config.ids and source.config.ids:
            mine, theirs = self.fitted_state().item_vocab, source.item_vocab
            shared = [i for i in mine.ids if i in theirs]
            if shared:
                rows = torch.as_tensor(mine.lookup(shared), dtype=torch.int64) + 1
                found = torch.as_tensor(theirs.lookup(shared), dtype=torch.int64) + 1
                own[rows] = weights["items.weight"][found]
        weights["items.weight"] = own
        if net.prior_weight is not None and "prior_weight" in weights:
            weights["prior_weight"] = self.domain_prior_weights(source, weights["prior_weight"])
        expected = set(net.state_dict())
        renamed: dict[str, torch.Tensor] = {}
        for key, value in weights.items():
            head, _, leaf = key.rpartition(".")
            if key not in expected and f"{head}.base.{leaf}" in expected:
                key = f"{head}.base.{leaf}"  # a LoRA-wrapped layer
            renamed[key] = value
        missing = [k for k in expected - set(renamed) if not k.endswith((".down", ".up"))]
        unexpected = sorted(set(renamed) - expected)
        if missing or unexpected:
            raise DataError(
                f"{self.config.pretrained}: checkpoint does not fit the network "
                f"(missing {sorted(missing)}, unexpected {unexpected})"
            )
        net.load_state_dict(renamed, strict=False)
        if self.config.recenter:
            offset = torch.from_numpy(self.text.mean(axis=0) - source.text.mean(axis=0))
            net.adapter.recentre(offset)

    def domain_names(self) -> list[str]:
        """The domains of the items, in order: a joint model's dataset prefixes, or the one
        dataset's name."""
        from lmrec.data.joint import domains

        if not self.config.domains:
            return [self.context.dataset]
        return [name for name, _ in domains(self.fitted_state().item_vocab.ids)]

    def domain_prior_weights(self, source: TextSeqRec, saved: torch.Tensor) -> torch.Tensor:
        """The text prior's weights of this model's domains from ``source``'s (one row per
        domain): a domain of the source keeps its own row (a joint model attached to one of its
        domains), any other domain starts from the mean of the source's rows."""
        import torch

        theirs = source.domain_names()
        return torch.stack(
            [saved[theirs.index(n)] if n in theirs else saved.mean(0) for n in self.domain_names()]
        )

    def check_teacher(self, teacher: TextSeqRec) -> None:
        if teacher.item_vocab.ids != self.item_vocab.ids:
            raise DataError(f"{self.config.teacher}: the teacher was trained on other items")
        if teacher.config.max_len < self.config.max_len:
            raise DataError(
                f"{self.config.teacher}: teacher max_len {teacher.config.max_len} < student "
                f"max_len {self.config.max_len}"
            )

    def parameter_counts(self) -> tuple[int, int]:
        """(trainable, total) network parameters under the configured ``tune`` mode."""
        from lmrec.models.textseq.tuning import parameter_counts

        return parameter_counts(self.network())

    @classmethod
    def load(cls, directory: Path, context: ModelContext | None = None, member: Any = None) -> Self:
        """A saved model; ``context`` (the dataset's name and catalogue, as ``lmrec serve`` and
        ``recommend`` give it) lets it read the text of items added later the way it read its
        own (:meth:`with_items`)."""
        model = super().load(directory)
        if context is not None:
            model.context = context
        return model

    def with_items(self, catalog: ItemCatalog, item_ids: Sequence[str]) -> TextSeqRec:
        """A copy that also scores ``item_ids`` from their text (:mod:`.extend`)."""
        from lmrec.models.textseq.extend import with_items

        extended: TextSeqRec = with_items(self, catalog, item_ids)
        return extended

    # -- persistence --------------------------------------------------------------------------

    def extra_tensors(self) -> dict[str, npt.NDArray[Any]]:
        return {"text": self.text}

    def restore_network(self, n_items: int, tensors: dict[str, Any]) -> SequenceNetwork:
        self.text = np.asarray(tensors["text"], dtype=np.float32)
        return super().restore_network(n_items, tensors)


ADAPTER = ("adapter.", "prior_weight")  # what tune=adapter trains


def freeze(net: torch.nn.Module, tune: str) -> None:
    """Narrow what the network trains (it freezes what it does not use, e.g. the adapter under
    ``fusion: init``) to what ``tune`` names: everything, the adapter (with the text prior's
    weight), or adapter + LoRA."""
    if tune == "all":
        return
    for name, param in net.named_parameters():
        named = name.startswith(ADAPTER) or (tune != "adapter" and name.endswith((".down", ".up")))
        param.requires_grad_(param.requires_grad and named)
