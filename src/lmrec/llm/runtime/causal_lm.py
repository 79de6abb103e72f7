"""A causal language model in torch, for the three things lmrec asks of one: generate, score the
likelihood of continuations, and decode under a constraint.

Loaded through transformers (a GGUF file is de-quantised into torch; the ``gguf`` package reads
it). The first load of a GGUF writes the converted weights as safetensors into lmrec's cache, so
later loads skip the conversion. Scoring shares the prompt's key/value cache across candidates:
the prompt runs once, then the candidates run in batches on copies of its cache.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lmrec.errors import BackendError
from lmrec.llm.runtime.locate import LocalModel


def default_threads() -> int:
    """Half the cores, at most 8: on a busy machine more threads spin instead of working."""
    return max(1, min(8, (os.cpu_count() or 2) // 2))


@dataclass(frozen=True)
class Generated:
    text: str
    prompt_tokens: int
    completion_tokens: int


def _converted_dir(model: LocalModel, cache_dir: Path) -> Path | None:
    """Where the safetensors copy of a GGUF goes: keyed by the file's path, size and time."""
    path = model.path
    if model.gguf_file is None or path is None or not path.exists():
        return None
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    return cache_dir / "llm-models" / f"{model.name}-{key[:12]}"


class CausalLM:
    """One loaded model. ``threads`` sets torch's intra-op threads for this process."""

    def __init__(
        self,
        model: LocalModel,
        threads: int | None = None,
        context: int = 2048,
        cache_dir: Path | None = None,
        device: str = "cpu",
    ) -> None:
        import torch

        torch.set_num_threads(threads or default_threads())
        self.spec = model
        self.name = model.name
        self.device = device
        start = time.perf_counter()
        self.tokenizer, network = self._load(model, cache_dir)
        self.network: Any = network.to(device).eval()
        self.load_seconds = time.perf_counter() - start
        limit = int(getattr(self.network.config, "max_position_embeddings", context) or context)
        self.context_length = min(context, limit)
        template = getattr(self.tokenizer, "chat_template", None)
        self.chat = bool(template) and model.base is not True
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    @staticmethod
    def _load(model: LocalModel, cache_dir: Path | None) -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        converted = _converted_dir(model, cache_dir) if cache_dir is not None else None
        if converted is not None and (converted / "config.json").exists():
            return (
                AutoTokenizer.from_pretrained(converted),
                AutoModelForCausalLM.from_pretrained(converted, dtype=torch.float32),
            )
        options: dict[str, Any] = {"gguf_file": model.gguf_file} if model.gguf_file else {}
        try:
            tokenizer = AutoTokenizer.from_pretrained(model.source, **options)
            network: Any = AutoModelForCausalLM.from_pretrained(
                model.source, dtype=torch.float32, **options
            )
        except ImportError as exc:  # transformers names the missing package (gguf, accelerate…)
            raise BackendError(f"cannot load {model.name}: {exc}") from exc
        except (OSError, ValueError, IndexError, struct.error) as exc:
            damaged = " (the file is truncated or damaged: get it again)" if model.gguf_file else ""
            raise BackendError(
                f"cannot load {model.name} from {model.path or model.source}{damaged}: {exc}"
            ) from None
        if converted is not None:
            partial = converted.with_name(converted.name + ".partial")
            # de-quantised already: save the float weights as a plain model
            network.hf_quantizer = None
            if hasattr(network.config, "quantization_config"):
                del network.config.quantization_config
            network.save_pretrained(partial)
            tokenizer.save_pretrained(partial)
            try:
                partial.replace(converted)  # atomic: a half-written copy is never loaded
            except OSError:  # another process wrote it first: theirs is as good
                shutil.rmtree(partial, ignore_errors=True)
        return tokenizer, network

    # -- text ↔ tokens ------------------------------------------------------------------------

    def prompt_ids(self, prompt: str, answer_prefix: str = "", raw: bool = False) -> list[int]:
        """The prompt as the model expects it (its chat template for a chat model, unless
        ``raw``), followed by the start of the answer."""
        if self.chat and not raw:
            text = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
            ids = self.tokenizer.encode(str(text) + answer_prefix, add_special_tokens=False)
        else:
            ids = self.tokenizer.encode(prompt + answer_prefix)
        return [int(i) for i in ids]

    def encode(self, text: str) -> list[int]:
        """A continuation's tokens (no special tokens)."""
        return [int(i) for i in self.tokenizer.encode(text, add_special_tokens=False)]

    def count_tokens(self, prompt: str) -> int:
        return len(self.prompt_ids(prompt))

    # -- generation ---------------------------------------------------------------------------

    def generate(
        self,
        rows: Sequence[list[int]],
        max_tokens: int,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> list[Generated]:
        """Replies to prompts already turned into tokens (:meth:`prompt_ids`)."""
        import torch

        width = max(len(r) for r in rows)
        pad = int(self.tokenizer.pad_token_id)
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=self.device)
        mask = torch.tensor(
            [[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.device
        )
        options: dict[str, Any] = {"max_new_tokens": max_tokens, "pad_token_id": pad}
        if temperature > 0:
            torch.manual_seed(seed)
            options.update(do_sample=True, temperature=temperature)
        else:
            options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = self.network.generate(input_ids=ids, attention_mask=mask, **options)
        new = out[:, width:]
        eos = self.tokenizer.eos_token_id
        result = []
        for row, tokens in zip(rows, new.tolist(), strict=True):
            kept = [t for t in tokens if t != pad and t != eos]
            text = self.tokenizer.decode(kept, skip_special_tokens=True)
            result.append(Generated(text, len(row), len(kept)))
        return result

    # -- likelihood ---------------------------------------------------------------------------

    def _prefix(self, prefix: Sequence[int]) -> tuple[Any, Any]:
        """Run the shared prefix once: its cache and the log-probabilities of the next token."""
        import torch

        ids = torch.tensor([list(prefix)], device=self.device)
        out = self.network(input_ids=ids, use_cache=True, logits_to_keep=1)
        return out.cache, torch.log_softmax(out.logits[0, -1].float(), dim=-1)

    def continuation_logprobs(
        self, prefix: Sequence[int], continuations: Sequence[Sequence[int]], batch_size: int = 10
    ) -> list[npt.NDArray[np.float32]]:
        """Per continuation, the log-probability of each of its tokens after ``prefix``."""
        import torch

        out: list[npt.NDArray[np.float32]] = []
        with torch.inference_mode():
            cache, first = self._prefix(prefix)
            for start in range(0, len(continuations), batch_size):
                chunk = [list(c) for c in continuations[start : start + batch_size]]
                width = max(len(c) for c in chunk)
                if width == 1:  # single tokens: the prefix's own next-token distribution says all
                    out.extend(np.array([first[c[0]].item()], dtype=np.float32) for c in chunk)
                    continue
                pad = int(self.tokenizer.pad_token_id)
                # right padding: a real token never attends to the padding after it
                ids = torch.tensor(
                    [c + [pad] * (width - len(c)) for c in chunk], device=self.device
                )
                batch_cache = copy.deepcopy(cache)
                batch_cache.batch_repeat_interleave(len(chunk))
                logits = self.network(input_ids=ids, cache=batch_cache).logits
                logp = torch.log_softmax(logits.float(), dim=-1)
                for row, c in enumerate(chunk):
                    values = [first[c[0]].item()]
                    values += [logp[row, j - 1, c[j]].item() for j in range(1, len(c))]
                    out.append(np.asarray(values, dtype=np.float32))
        return out

    # -- constrained decoding -----------------------------------------------------------------

    def choose_order(
        self, prefix: Sequence[int], labels: Sequence[Sequence[int]], separator: Sequence[int]
    ) -> tuple[list[int], int]:
        """Greedy decoding that may only write the labels, each once, joined by ``separator``
        (:func:`~lmrec.llm.runtime.constrained.constrained_order`)."""
        import torch

        from lmrec.llm.runtime.constrained import constrained_order

        with torch.inference_mode():
            cache, first = self._prefix(prefix)

            def step(token: int) -> Any:
                nonlocal cache
                ids = torch.tensor([[token]], device=self.device)
                result = self.network(input_ids=ids, cache=cache, use_cache=True)
                cache = result.cache
                return torch.log_softmax(result.logits[0, -1].float(), dim=-1).numpy()

            return constrained_order(first.numpy(), step, labels, separator)
