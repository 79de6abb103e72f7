"""Scripted stand-ins for an LLM: a local OpenAI-compatible HTTP server whose replies come from a
Python function, and an in-process backend. Used by the tests and benchmarks to drive the real
client and ranking code paths without model weights."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lmrec.llm.runtime.backends import Completion, GenerationParams, Usage

# A reply: (status, body text or None for a reply with no JSON, delay seconds)
Reply = tuple[int, str | None, float]
Script = Callable[[str], Reply]

CANDIDATE_LINE = re.compile(r"^\[(\d+)\] (.*)$", re.MULTILINE)


def candidates_in(prompt: str) -> list[str]:
    return [m.group(2) for m in CANDIDATE_LINE.finditer(prompt)]


class ScriptedServer:
    """Serves POST /v1/chat/completions from ``script(prompt)``; counts requests."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                try:
                    status, text, delay = server.script(body["messages"][0]["content"])
                except Exception as exc:  # a broken script must fail the test, not hang it
                    status, text, delay = 500, f"script error: {exc!r}", 0.0
                time.sleep(delay)
                payload = (
                    b"not json"
                    if text is None
                    else json.dumps(
                        {
                            "choices": [{"message": {"role": "assistant", "content": text}}],
                            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
                        }
                    ).encode()
                )
                try:
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "0")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @contextmanager
    def running(self) -> Iterator[ScriptedServer]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()


class FunctionBackend:
    """In-process backend: ``reply(prompt) -> text``; for fast protocol checks."""

    def __init__(self, reply: Callable[[str], str], model: str = "scripted") -> None:
        self.reply = reply
        self.model = model
        self.usage = Usage()

    def complete(
        self, prompts: Sequence[str], params: GenerationParams | None = None
    ) -> list[Completion]:
        self.usage.add(calls=len(prompts))
        return [Completion(self.reply(p)) for p in prompts]
