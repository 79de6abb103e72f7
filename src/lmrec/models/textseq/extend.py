"""New items for a fitted TextSeqRec or HybridRec: their text vectors join the network's table.

Copy-on-write, as for the zero-shot model: the checkpoint's tensors (network weights, the ID
table widened by zero rows, the saved extras such as the hybrid's new-item offset) rebuild a new
network over the widened text table; the fitted model is never changed. A new item has no
training interactions, so it is scored as every unseen item is: by its text (its ID row is
masked or zero) and, for the hybrid, with the fitted new-item offset. The prior's centring uses
the widened catalogue's mean, as a model fitted on it would.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from lmrec.core.fitted import FittedState
from lmrec.data.containers import ItemCatalog
from lmrec.data.runtime_items import widened, with_rows
from lmrec.errors import ConfigError

ID_TABLE = "net.items.weight"  # one row per item after the padding row


def with_items(model: Any, catalog: ItemCatalog, item_ids: Sequence[str]) -> Any:
    """A copy of ``model`` (a fitted ``TextSeqRec``; not imported here, which imports this
    module) that also scores ``item_ids`` from their text in ``catalog``."""
    state = model.fitted_state()
    if len(model.network().bounds) > 2:
        raise ConfigError("a joint (several-domain) text model cannot take new items while serving")
    wanted = list(dict.fromkeys(item_ids))
    if not wanted:
        return model
    out = copy.copy(model)
    out.context = dataclasses.replace(model.context, catalog=catalog)
    vectors = out.encode_items(wanted)
    vocab, rows = widened(state.item_vocab, wanted)
    added = len(vocab) - len(state.item_vocab)
    text = with_rows(np.asarray(model.text, dtype=np.float32), len(vocab), rows, vectors)
    tensors: dict[str, Any] = {
        f"net.{k}": v.detach().cpu().numpy() for k, v in model.network().state_dict().items()
    }
    tensors |= model.extra_tensors()
    tensors["text"] = text
    table = tensors.get(ID_TABLE)
    if table is not None and len(table) == len(state.item_vocab) + 1:  # a model with ID rows
        tensors[ID_TABLE] = np.concatenate([table, np.zeros((added, table.shape[1]), table.dtype)])
    out._state = FittedState(state.user_vocab, vocab, state.histories)
    out.net = out.restore_network(len(vocab), tensors)
    out.net.eval()
    return out
