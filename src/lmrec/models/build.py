"""A ready model for a dataset, by name: fitted on the whole log, or loaded from a folder.

This is what ``lmrec recommend``, ``lmrec serve``, the Ray workers and the service's workers
share; none of them needs the service package (or its extra) to get a model.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from lmrec.core.fitted import ModelContext
from lmrec.core.recommender import Recommender
from lmrec.data.containers import Dataset
from lmrec.errors import CheckpointError, ConfigError
from lmrec.models.registry import create_model, load_model, model_spec


def build_model(
    dataset: Dataset,
    name: str,
    config: Mapping[str, Any] | None = None,
    model_dir: Path | None = None,
    progress: bool = False,
    known: Collection[str] | None = None,
) -> Recommender:
    """Fit the registered model ``name`` on the whole dataset, or load the model saved in
    ``model_dir`` (which must hold a ``name`` model over the dataset's items, or over ``known``:
    a service's catalogue with the items added at runtime).

    A model whose fit takes minutes (torch training, or a composite with such a member) is not
    fitted here: ``lmrec train`` writes the folder to load.
    """
    spec = model_spec(name)
    context = ModelContext.for_dataset(dataset, progress=progress)
    if model_dir is not None:
        loaded = load_model(model_dir, context, expect=name)
        catalogue = set(dataset.interactions.item_vocab.ids) if known is None else known
        unknown = [i for i in loaded.item_vocab.ids if i not in catalogue]
        if unknown:
            raise CheckpointError(
                f"{model_dir}: the saved model scores {len(unknown)} items that are not in "
                f"{dataset.name!r} (e.g. {unknown[0]!r}); was it trained on another dataset?"
            )
        return loaded
    if spec.slow_fit(config):
        raise ConfigError(
            f"model {name!r} trains for minutes: run `lmrec train -d {dataset.name} -m {name} "
            "-o DIR` first and give --model-dir DIR"
        )
    return create_model(name, config, context).fit(dataset.interactions)
