"""A local causal LM with a LoRA adapter (``peft``), trained and scored through a verbalizer.

Both tasks are a choice among a few answer tokens after a prompt: "Yes"/"No" for binary preference,
the letters "A".."T" for re-ranking lettered candidates. The score of a choice is the LM's logit of
its token at the answer position, computed from the last hidden state and only those rows of the
output layer (one forward pass per prompt, no full-vocabulary logits); training minimises the
cross-entropy over the choices. The trainer follows lmrec's conventions: seeded, a wall-time
budget, validation after each epoch, the best epoch's adapter kept. Adapters are written by
``peft`` as safetensors with a JSON config (no pickle).
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict, Field

from lmrec.errors import ConfigError
from lmrec.settings import Settings
from lmrec.training.trainer import EpochLog, TrainReport


class LoraSettings(Settings):
    """The base model, the adapter's shape and how it is trained."""

    model_config = ConfigDict(extra="forbid")

    base: str = Field(
        "smollm2-135m",
        description="smollm2-135m, gemma3-270m, a .gguf file, a model folder or a hub name.",
    )
    rank: int = Field(8, ge=1, description="LoRA rank r.")
    alpha: int = Field(16, ge=1, description="LoRA alpha (the update is scaled alpha/r).")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "v_proj"], description="Linear layers given an adapter."
    )
    lr: float = Field(1e-3, gt=0.0, description="AdamW learning rate (constant after warm-up).")
    warmup_steps: int = Field(2, ge=0)
    weight_decay: float = Field(0.0, ge=0.0)
    epochs: int = Field(4, ge=1)
    batch_size: int = Field(8, ge=1)
    max_minutes: float = Field(0.0, ge=0.0, description="Stop after this wall time (0 = none).")
    seed: int = 0
    threads: int | None = Field(None, ge=1, description="CPU threads (default: half the cores).")
    device: str = "cpu"
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto",
        description="Matrix products in bfloat16 (weights and adapter stay float32) or float32; "
        "auto: bf16 where the processor has it (3.7x faster scoring on AVX512-BF16 here).",
    )
    max_tokens: int = Field(1024, ge=32, description="Longest prompt; longer ones are refused.")


# answer tokens: a list shared by every prompt, or an (n_prompts, k) array, one row per prompt
Tokens = Sequence[int] | npt.NDArray[np.int64]


def tokens_of(tokens: Tokens, rows: Sequence[int] | npt.NDArray[np.int64]) -> Tokens:
    """The answer tokens of ``rows`` (all of them when they are shared)."""
    if isinstance(tokens, np.ndarray) and tokens.ndim == 2:
        return tokens[np.asarray(rows, dtype=np.int64)]
    return tokens


@contextmanager
def quiet() -> Iterator[None]:
    """Two warnings that are not the user's concern, hidden: peft calls a transformers method
    that transformers 5 marks deprecated, and looks for a hub config the converted GGUF lacks."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
        )
        # saving: the base is a converted GGUF, so peft finds no hub config to compare with
        warnings.filterwarnings(
            "ignore", message="Could not find a config file", category=UserWarning
        )
        yield


def bf16_supported(device: str) -> bool:
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_bf16_supported())
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(probe()) if probe is not None else False


class TunedLM:
    """A base LM, its tokenizer and (once :meth:`add_adapter` or :meth:`load_adapter` ran) a
    LoRA adapter. ``scores`` works with or without one (without: the untuned model)."""

    def __init__(self, settings: LoraSettings, cache_dir: Path | None = None) -> None:
        from lmrec.llm.runtime.causal_lm import CausalLM
        from lmrec.llm.runtime.locate import resolve_llm
        from lmrec.text.cache import default_cache_dir

        self.settings = settings
        self.lm = CausalLM(
            resolve_llm(settings.base),
            threads=settings.threads,
            cache_dir=cache_dir or default_cache_dir(),
            device=settings.device,
        )
        self.network: Any = self.lm.network
        self.adapted = False
        self.bf16 = settings.precision == "bf16" or (
            settings.precision == "auto" and bf16_supported(settings.device)
        )
        self.device_kind = "cuda" if settings.device.startswith("cuda") else "cpu"

    def autocast(self) -> Any:
        """The mixed-precision context of every forward pass."""
        import torch

        return torch.autocast(self.device_kind, dtype=torch.bfloat16, enabled=self.bf16)

    # -- prompts ------------------------------------------------------------------------------

    def prompt_ids(self, prompt: str) -> list[int]:
        """The prompt up to the answer token: in the chat template for an instruct model (the
        reply starts with the answer), followed by "Answer:" for a base model."""
        ids = self.lm.prompt_ids(prompt, "" if self.lm.chat else "Answer:")
        if len(ids) > self.settings.max_tokens:
            raise ValueError(
                f"a prompt of {len(ids)} tokens is longer than max_tokens={self.settings.max_tokens}"
            )
        return ids

    def choice_tokens(self, words: Sequence[str]) -> list[int]:
        """The first token of each answer word as it follows the prompt (after a space for a
        base model's plain text, at the start of the reply for a chat model)."""
        lead = "" if self.lm.chat else " "
        tokens = [self.lm.encode(lead + w)[0] for w in words]
        if len(set(tokens)) != len(tokens):
            raise ConfigError(f"answers {list(words)} share a first token in {self.lm.name}")
        return tokens

    # -- the adapter --------------------------------------------------------------------------

    def add_adapter(self) -> None:
        """Wrap the LM in a fresh adapter, its random half (LoRA's A) drawn from ``seed``
        alone: the same settings give the same adapter whatever ran before in the process."""
        import torch
        from peft import LoraConfig, get_peft_model

        s = self.settings
        config = LoraConfig(
            r=s.rank, lora_alpha=s.alpha, lora_dropout=s.dropout, target_modules=s.target_modules
        )
        try:
            with quiet(), torch.random.fork_rng():  # the caller's streams (CPU, any GPU) untouched
                torch.manual_seed(s.seed)
                self.network = get_peft_model(self.lm.network, config)
        except ValueError as exc:  # peft names the modules it could not find
            raise ConfigError(f"{self.lm.name}: {exc}") from exc
        self.adapted = True

    def load_adapter(self, directory: Path) -> None:
        from peft import PeftModel

        if not (directory / "adapter_config.json").exists():
            raise FileNotFoundError(f"{directory}: no adapter_config.json (not a LoRA adapter)")
        with quiet():
            self.network = PeftModel.from_pretrained(self.lm.network, str(directory))
        self.adapted = True

    def save_adapter(self, directory: Path) -> None:
        with quiet():
            self.network.save_pretrained(str(directory), safe_serialization=True)

    def trainable_share(self) -> tuple[int, int]:
        """(trainable, total) parameter counts."""
        params = list(self.network.parameters())
        return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)

    # -- scoring ------------------------------------------------------------------------------

    def _logits(self, rows: Sequence[list[int]], tokens: Tokens) -> Any:
        """``(len(rows), k)`` logits of the answer tokens: ``tokens`` shared by every row, or
        one list of ``k`` per row."""
        import torch

        causal = self.network.get_base_model() if self.adapted else self.network
        width = max(len(r) for r in rows)
        pad = int(self.lm.tokenizer.pad_token_id)
        device = self.settings.device
        ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=device)
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=device)
        hidden = causal.model(input_ids=ids, attention_mask=mask).last_hidden_state
        last = hidden[torch.arange(len(rows), device=device), mask.sum(1) - 1]
        head = causal.get_output_embeddings()
        index = torch.as_tensor(np.asarray(tokens, dtype=np.int64), device=device)
        with torch.autocast(self.device_kind, enabled=False):  # bfloat16 logits would tie (8 bits)
            if index.dim() == 2:  # (n, k, d) answer rows, one set per prompt
                logits = torch.einsum("nd,nkd->nk", last.float(), head.weight[index].float())
            else:
                logits = last.float() @ head.weight[index].float().T
            if getattr(head, "bias", None) is not None:
                logits = logits + head.bias[index].float()
        cap = getattr(causal.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return logits.float()

    def scores(
        self,
        rows: Sequence[list[int]],
        tokens: Tokens,
        batch_size: int = 16,
        progress: bool = False,
    ) -> npt.NDArray[np.float32]:
        """``(len(rows), k)`` logits of the answer tokens after each prompt (``tokens``: ``k``
        shared by every prompt, or one list of ``k`` per prompt)."""
        import torch
        from tqdm.auto import tqdm

        self.network.eval()
        out = []
        order = np.argsort([len(r) for r in rows], kind="stable")  # similar lengths together
        with torch.inference_mode(), self.autocast():
            for start in tqdm(
                range(0, len(rows), batch_size), desc="scoring", disable=not progress, leave=False
            ):
                picked = order[start : start + batch_size]
                chunk = [rows[i] for i in picked]
                out.append(self._logits(chunk, tokens_of(tokens, picked)).cpu().numpy())
        width = np.asarray(tokens).shape[-1]
        result = np.empty((len(rows), width), dtype=np.float32)
        if out:
            result[order] = np.concatenate(out)
        return result

    # -- training -----------------------------------------------------------------------------

    def train(
        self,
        rows: Sequence[list[int]],
        targets: Sequence[int],
        tokens: Tokens,
        validate: Callable[[], float],
        metric_name: str,
        progress: bool = False,
    ) -> TrainReport:
        """Fit the adapter: cross-entropy of ``targets`` (indices into ``tokens``) over the
        choices; ``validate`` (higher is better) runs after each epoch and the best epoch's
        adapter is restored."""
        import torch
        import torch.nn.functional as F
        from peft import set_peft_model_state_dict
        from tqdm.auto import tqdm

        if not self.adapted:
            self.add_adapter()
        s = self.settings
        torch.manual_seed(s.seed)
        generator = np.random.default_rng(s.seed)
        params = [p for p in self.network.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay)
        target = torch.tensor(list(targets), dtype=torch.long, device=s.device)
        begin = time.perf_counter()
        logs: list[EpochLog] = []
        # epoch 0 is the adapter as initialised (LoRA's B = 0: the untuned model); it is kept
        # when no trained epoch validates better
        untuned = validate()
        best: tuple[float, int, Any] = (untuned, 0, self._adapter_state())
        stopped, step = "epochs", 0
        for epoch in range(1, s.epochs + 1):
            self.network.train()
            started, losses = time.perf_counter(), []
            order = generator.permutation(len(rows))
            batches = [order[i : i + s.batch_size] for i in range(0, len(rows), s.batch_size)]
            for picked in tqdm(batches, desc=f"epoch {epoch}", disable=not progress, leave=False):
                for group in optimizer.param_groups:
                    group["lr"] = s.lr * min(1.0, (step + 1) / max(s.warmup_steps, 1))
                with self.autocast():
                    logits = self._logits([rows[i] for i in picked], tokens_of(tokens, picked))
                loss = F.cross_entropy(logits, target[torch.as_tensor(picked)])
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                losses.append(loss.item())
                step += 1
            train_s = time.perf_counter() - started
            started = time.perf_counter()
            metric = validate()
            logs.append(
                EpochLog(
                    epoch, float(np.mean(losses)), metric, train_s, time.perf_counter() - started
                )
            )
            if metric > best[0]:
                best = (metric, epoch, self._adapter_state())
            if s.max_minutes and time.perf_counter() - begin > 60 * s.max_minutes:
                stopped = "time"
                break
        set_peft_model_state_dict(self.network, copy.deepcopy(best[2]))
        return TrainReport(
            tuple(logs),
            best[1],
            best[0],
            time.perf_counter() - begin,
            stopped,
            extra={f"untuned_validation_{metric_name}": untuned},
            metric_name=metric_name,
        )

    def _adapter_state(self) -> dict[str, Any]:
        from peft import get_peft_model_state_dict

        state = get_peft_model_state_dict(self.network)
        return {k: v.detach().clone() for k, v in state.items()}
