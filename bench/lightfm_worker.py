"""LightFM side of ``bench.cold_start``: runs in LightFM's own environment (no lmrec import).

Reads an ``.npz`` of the training split (user, item index pairs), the item text features
(item, token index pairs), the validation and the test case users; fits LightFM (WARP loss)
with identity features for the items that have training interactions and token features for
every item, so an item without interactions is scored from its tokens alone (LightFM's
cold-start recipe). After each number of epochs in EPOCHS (comma-separated, increasing) it
writes both case sets' scores over every item, so the caller picks the epochs on validation.

Usage: python lightfm_worker.py IN.npz OUT.npz EPOCHS COMPONENTS THREADS SEED
"""

from __future__ import annotations

import sys
import time

import numpy as np
import scipy.sparse as sp


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    checkpoints = [int(v) for v in sys.argv[3].split(",")]
    components, threads, seed = (int(v) for v in sys.argv[4:7])
    from lightfm import LightFM

    data = np.load(src)
    n_users, n_items = int(data["n_users"]), int(data["n_items"])
    inter = sp.coo_matrix(
        (np.ones(len(data["train_users"]), np.float32), (data["train_users"], data["train_items"])),
        shape=(n_users, n_items),
    ).tocsr()
    inter.data[:] = 1.0
    warm = np.flatnonzero(data["warm"])
    n_tokens = int(data["n_tokens"])
    rows = np.concatenate([warm, data["feature_items"]])
    cols = np.concatenate([warm, n_items + data["feature_tokens"]])
    features = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(n_items, n_items + n_tokens)
    )
    sums = np.asarray(features.sum(axis=1)).ravel()
    # rows sum to 1, as LightFM's Dataset builds them
    features = (sp.diags(1.0 / np.maximum(sums, 1.0)) @ features).tocsr()
    model = LightFM(loss="warp", no_components=components, random_state=seed)
    out: dict[str, np.ndarray] = {}
    done, fit_s, score_s = 0, 0.0, 0.0
    for epochs in checkpoints:
        start = time.perf_counter()
        model.fit_partial(
            inter.tocoo(), item_features=features, epochs=epochs - done, num_threads=threads
        )
        fit_s += time.perf_counter() - start
        done = epochs
        start = time.perf_counter()
        item_bias, item_emb = model.get_item_representations(features)
        _, user_emb = model.get_user_representations()
        for part in ("valid", "test"):
            users = data[f"{part}_users"]
            scores = user_emb[users] @ item_emb.T + item_bias[None, :]
            out[f"{part}_{epochs}"] = scores.astype(np.float32)
        score_s += time.perf_counter() - start
    out["fit_s"], out["score_s"] = np.array(fit_s), np.array(score_s)
    np.savez(dst, **out)  # type: ignore[arg-type]  # (numpy types its allow_pickle keyword)


if __name__ == "__main__":
    main()
