"""``lmrec llm serve``: a local model behind an OpenAI-compatible HTTP API.

``GET /v1/models``, ``POST /v1/chat/completions`` and ``POST /v1/completions``, enough for lmrec's
own HTTP backend and for any OpenAI client. A chat request whose ``response_format`` is lmrec's
ranking schema (:func:`~lmrec.llm.runtime.backends.ranking_schema`) is answered by constrained decoding,
so the reply is ``{"ranking": [...]}`` with every number exactly once. Requests are served one at
a time (a CPU model gains nothing from more), in the order they arrive.
"""
# no ``from __future__ import annotations``: FastAPI reads the handlers' annotations at runtime

import json
import threading
import time
from typing import Any

from lmrec.llm.runtime.backends import Completion, GenerationParams
from lmrec.llm.runtime.local_backend import LocalBackend


def _ranking_size(response_format: Any) -> int | None:
    """``n`` when the request asks for lmrec's ranking schema of ``n`` candidates."""
    if not isinstance(response_format, dict):
        return None
    schema = (response_format.get("json_schema") or {}).get("schema") or {}
    ranking = (schema.get("properties") or {}).get("ranking") or {}
    n = ranking.get("maxItems")
    return int(n) if isinstance(n, int) and ranking.get("uniqueItems") and n > 0 else None


def _messages_prompt(messages: Any) -> str:
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    parts = []
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            raise ValueError("each message needs a string 'content'")
        parts.append(m["content"])
    return "\n\n".join(parts)


def create_app(backend: LocalBackend) -> Any:
    from fastapi import FastAPI, HTTPException, Request

    app = FastAPI(title=f"lmrec llm serve · {backend.model}")
    lock = threading.Lock()

    def params(body: dict[str, Any]) -> GenerationParams:
        try:
            return GenerationParams(
                temperature=float(body.get("temperature", 0.0)),
                max_tokens=int(body.get("max_tokens") or 256),
                seed=int(body.get("seed", 0)),
            )
        except (TypeError, ValueError) as exc:
            raise HTTPException(400, f"bad generation parameter: {exc}") from None

    async def read(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise HTTPException(400, "body must be a JSON object")
        return body

    def usage(c: Completion) -> dict[str, int]:
        total = c.prompt_tokens + c.completion_tokens
        return {
            "prompt_tokens": c.prompt_tokens,
            "completion_tokens": c.completion_tokens,
            "total_tokens": total,
        }

    def reply(kind: str, c: Completion, choice: dict[str, Any]) -> dict[str, Any]:
        if c.error is not None and not c.text:
            raise HTTPException(500 if "failed" in c.error else 400, c.error)
        return {
            "id": f"lmrec-{time.time_ns()}",
            "object": kind,
            "created": int(time.time()),
            "model": backend.model,
            "choices": [{"index": 0, "finish_reason": "stop", **choice}],
            "usage": usage(c),
        }

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": backend.model, "object": "model"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await read(request)
        try:
            prompt = _messages_prompt(body.get("messages"))
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        n = _ranking_size(body.get("response_format"))
        p = params(body)
        with lock:
            if n is not None:
                c = backend.rank_constrained([prompt], [n])[0]
                numbers = [int(line.strip("[]")) for line in c.text.splitlines()]
                c = Completion(
                    json.dumps({"ranking": numbers}), c.prompt_tokens, c.completion_tokens
                )
            else:
                c = backend.complete([prompt], p)[0]
        message = {"role": "assistant", "content": c.text}
        return reply("chat.completion", c, {"message": message})

    @app.post("/v1/completions")
    async def completions(request: Request) -> dict[str, Any]:
        body = await read(request)
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise HTTPException(400, "prompt must be a string")
        with lock:
            c = backend.complete([prompt], params(body))[0]
        return reply("text_completion", c, {"text": c.text})

    return app
