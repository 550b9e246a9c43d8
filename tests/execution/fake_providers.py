"""A local HTTP server that speaks the wire formats of the LLM providers CODITECT calls.

There is no internet in tests, so the real SDKs (anthropic, openai, google-genai) are
pointed at this server on 127.0.0.1 through their ``base_url``. It answers:

    POST /v1/messages                                  Anthropic Messages API
    POST /v1/chat/completions                          OpenAI Chat Completions
    POST /v1beta/models/{model}:generateContent        Gemini generateContent (and /v1/)

Replies are scripted per provider (a queue; when it is empty the server answers with an
echo of the last user message) and every request is recorded. ``fail_first`` makes
every distinct prompt fail its first *n* requests (deterministic under parallel load,
which is what the runner benchmark needs). Nothing here depends on pytest, so the
benchmarks import it too (``sys.path`` must hold the repository root)::

    from tests.execution.fake_providers import FakeProviders, ok, error
    with FakeProviders() as fake:
        fake.script("anthropic", error(429, retry_after=0.05), ok("done"))
        url = fake.base_url            # http://127.0.0.1:<port>
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeProviders", "Recorded", "Scripted", "error", "malformed", "ok", "slow"]

_GEMINI_PATH = re.compile(r"^/v1(beta)?/models/(?P<model>[^:/]+):generateContent$")
_PATHS = {"/v1/messages": "anthropic", "/v1/chat/completions": "openai"}


@dataclass(frozen=True, slots=True)
class Scripted:
    """One scripted answer: a success (``text``), an error (``status``) or a raw body."""

    text: str = ""
    status: int = 200
    message: str = ""
    retry_after: float | None = None
    raw: bytes | None = None
    delay: float = 0.0
    input_tokens: int = 10
    output_tokens: int = 5
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    model: str | None = None
    """The model the reply claims to come from (default: the one requested)."""


def ok(text: str, **usage: Any) -> Scripted:
    return Scripted(text=text, **usage)


def error(status: int, message: str = "", *, retry_after: float | None = None) -> Scripted:
    return Scripted(
        status=status, message=message or f"fake error {status}", retry_after=retry_after
    )


def malformed(body: bytes = b'{"this is": not json') -> Scripted:
    return Scripted(raw=body)


def slow(seconds: float, text: str = "late") -> Scripted:
    return Scripted(text=text, delay=seconds)


@dataclass(frozen=True, slots=True)
class Recorded:
    provider: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def last_user_text(self) -> str:
        return _last_user_text(self.provider, self.body)


class FakeProviders:
    """The server; ``start()`` returns its base URL, ``stop()`` shuts it down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Scripted]] = defaultdict(deque)
        self._failures: dict[str, tuple[int, Scripted]] = {}
        self._seen: dict[tuple[str, str], int] = defaultdict(int)
        self.requests: list[Recorded] = []
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, port: int = 0) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        self._server = server
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeProviders:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- scripting -----------------------------------------------------------------------
    def script(self, provider: str, *replies: Scripted) -> None:
        """Queue ``replies`` for ``provider`` (anthropic, openai or gemini), in order."""
        with self._lock:
            self._queues[provider].extend(replies)

    def fail_first(self, provider: str, n: int, reply: Scripted) -> None:
        """Answer the first ``n`` requests of every distinct prompt with ``reply``."""
        with self._lock:
            self._failures[provider] = (n, reply)

    def count(self, provider: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if provider in (None, r.provider))

    def _next(self, record: Recorded) -> Scripted:
        with self._lock:
            self.requests.append(record)
            queue = self._queues[record.provider]
            if queue:
                return queue.popleft()
            if record.provider in self._failures:
                n, reply = self._failures[record.provider]
                key = (record.provider, record.last_user_text)
                self._seen[key] += 1
                if self._seen[key] <= n:
                    return reply
        return ok("echo: " + record.last_user_text)


def _handler(fake: FakeProviders) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the second waits for the
        # client's delayed ACK (~40 ms a request on Linux), which no real provider adds.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``fake.requests`` instead."""

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            match = _GEMINI_PATH.match(path)
            provider = "gemini" if match else _PATHS.get(path)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            if provider is None:
                self._send(404, {"error": {"message": f"no route {path}"}})
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._send(400, {"error": {"message": "request body is not JSON"}})
                return
            if match:
                body.setdefault("model", match["model"])
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = fake._next(Recorded(provider, path, headers, body))
            if reply.delay:
                time.sleep(reply.delay)
            self._answer(provider, body, reply)

        def _answer(self, provider: str, body: dict[str, Any], reply: Scripted) -> None:
            if reply.raw is not None:
                self._send(200, reply.raw)
            elif reply.status != 200:
                extra = {} if reply.retry_after is None else {"retry-after": f"{reply.retry_after}"}
                self._send(reply.status, _error_body(provider, reply), extra)
            else:
                self._send(200, _success_body(provider, body, reply))

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

    return Handler


def _last_user_text(provider: str, body: dict[str, Any]) -> str:
    if provider == "gemini":
        users = [c for c in body.get("contents", []) if c.get("role", "user") == "user"]
        return "".join(p.get("text", "") for p in users[-1]["parts"]) if users else ""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    if not users:
        return ""
    content = users[-1]["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content)
    return str(content)


_ERROR_TYPES = {
    400: ("invalid_request_error", "INVALID_ARGUMENT"),
    401: ("authentication_error", "UNAUTHENTICATED"),
    403: ("permission_error", "PERMISSION_DENIED"),
    404: ("not_found_error", "NOT_FOUND"),
    429: ("rate_limit_error", "RESOURCE_EXHAUSTED"),
    529: ("overloaded_error", "UNAVAILABLE"),
}


def _error_body(provider: str, reply: Scripted) -> dict[str, Any]:
    kind, status = _ERROR_TYPES.get(reply.status, ("api_error", "INTERNAL"))
    if provider == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": reply.message}}
    if provider == "openai":
        return {"error": {"message": reply.message, "type": kind, "param": None, "code": None}}
    return {"error": {"code": reply.status, "message": reply.message, "status": status}}


def _success_body(provider: str, body: dict[str, Any], reply: Scripted) -> dict[str, Any]:
    model = reply.model or body.get("model", "unknown")
    if provider == "anthropic":
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": reply.text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": reply.input_tokens,
                "output_tokens": reply.output_tokens,
                "cache_creation_input_tokens": reply.cache_write_tokens,
                "cache_read_input_tokens": reply.cache_read_tokens,
            },
        }
    if provider == "openai":  # prompt_tokens includes the cached ones, as OpenAI counts
        prompt = reply.input_tokens + reply.cache_read_tokens
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": reply.output_tokens,
                "total_tokens": prompt + reply.output_tokens,
                "prompt_tokens_details": {"cached_tokens": reply.cache_read_tokens},
            },
        }
    prompt = reply.input_tokens + reply.cache_read_tokens
    return {
        "candidates": [
            {
                "content": {"parts": [{"text": reply.text}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": reply.output_tokens,
            "cachedContentTokenCount": reply.cache_read_tokens,
            "totalTokenCount": prompt + reply.output_tokens,
        },
        "modelVersion": model,
        "responseId": "fake",
    }
