"""Runs inside RecBole's own throw-away virtual environment (never imports lmrec).

Trains RecBole 1.2.1's SASRec or GRU4Rec (CE loss) on a RecBole atomic dataset with leave-one-out
(``LS: valid_and_test``, time order, full ranking), epoch by epoch until a wall-time budget or an
epoch limit, then evaluates the last model on the test split. Prints one JSON line.
Usage: python recbole_worker.py MODEL DATA_PATH DATASET BUDGET_S MAX_EPOCHS
"""

import json
import os
import sys
import time

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # its checkpoints hold a Config

import torch
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.trainer import Trainer
from recbole.utils import get_model, init_seed


def main() -> None:
    model_name, data_path, dataset_name = sys.argv[1], sys.argv[2], sys.argv[3]
    budget, max_epochs = float(sys.argv[4]), int(sys.argv[5])
    settings = {
        "data_path": data_path,
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full"},
        "metrics": ["Hit", "NDCG"],
        "topk": [10],
        "valid_metric": "NDCG@10",
        "loss_type": "CE",
        "train_neg_sample_args": None,
        "train_batch_size": 2048,
        "MAX_ITEM_LIST_LENGTH": 50,
        "seed": 2020,
        "use_gpu": False,
        "show_progress": False,
        "checkpoint_dir": "/tmp/recbole-saved",
    }
    config = Config(model=model_name, dataset=dataset_name, config_dict=settings)
    init_seed(config["seed"], config["reproducibility"])
    t0 = time.perf_counter()
    dataset = create_dataset(config)
    train, _valid, test = data_preparation(config, dataset)
    prep = time.perf_counter() - t0
    model = get_model(model_name)(config, train._dataset).to(config["device"])
    # Importing RecBole's sine.py turns anomaly detection on for every model (~1.7x slower);
    # switch it off, changing nothing inside RecBole.
    torch.autograd.set_detect_anomaly(False)
    trainer = Trainer(config, model)
    epochs = []
    start = time.perf_counter()
    for epoch in range(max_epochs):
        t = time.perf_counter()
        loss = trainer._train_epoch(train, epoch, show_progress=False)
        epochs.append({"epoch": epoch + 1, "seconds": time.perf_counter() - t, "loss": float(loss)})
        if time.perf_counter() - start >= budget:
            break
    train_seconds = time.perf_counter() - start
    result = trainer.evaluate(test, load_best_model=False, show_progress=False)
    print(
        json.dumps(
            {
                "model": model_name,
                "prep_seconds": prep,
                "train_seconds": train_seconds,
                "epochs": epochs,
                "test": {k: float(v) for k, v in result.items()},
                "n_users_test": len(test.uid_list) if hasattr(test, "uid_list") else None,
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
