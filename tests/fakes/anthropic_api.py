"""A fake Anthropic Messages API that tests script turn by turn.

It listens on 127.0.0.1 on a free port and answers `POST /v1/messages` with the same server-sent
event sequence the real API streams (message_start, content_block_start/delta/stop for text and
tool_use blocks, message_delta with usage and stop_reason, message_stop), or with an API error
(429/529 with retry-after, 401). `GET /v1/models` lists `MODELS` as the real API pages them
(`limit`, `has_more`, `first_id`, `last_id`). With `reject_key` set, every request is refused as the
real API refuses a bad key (401 `authentication_error`). Every request is recorded so tests can
assert what the CLI sent: the tools offered, the prompt, and that no secret left the runner.
Source for the models list and the error body: Anthropic's API reference ("List Models",
`GET /v1/models`, and "Errors": `{"type": "error", "error": {"type": "authentication_error", ...}}`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_ids = itertools.count(1)
# (id, display_name, created_at) as `GET /v1/models` lists them, newest first.
MODELS = (
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
)


@dataclass
class Text:
    text: str


@dataclass
class ToolUse:
    name: str
    input: dict[str, Any]
    id: str = field(default_factory=lambda: f"toolu_fake{next(_ids):06d}")


@dataclass
class Reply:
    """One scripted model turn."""

    blocks: list[Text | ToolUse]
    input_tokens: int = 100
    output_tokens: int = 20
    delay_s: float = 0.0

    @property
    def stop_reason(self) -> str:
        return "tool_use" if any(isinstance(b, ToolUse) for b in self.blocks) else "end_turn"


@dataclass
class ApiError:
    """One scripted error response (the CLI decides whether to retry)."""

    status: int
    type: str
    message: str = "scripted error"
    retry_after: float | None = None


Step = Reply | ApiError | Callable[[dict[str, Any]], "Reply | ApiError"]


def text(msg: str, **kw: Any) -> Reply:
    return Reply([Text(msg)], **kw)


def tool(name: str, **tool_input: Any) -> Reply:
    return Reply([ToolUse(name, tool_input)])


def tools(*calls: tuple[str, dict[str, Any]]) -> Reply:
    return Reply([ToolUse(n, i) for n, i in calls])


def rate_limited(retry_after: float | None = 0) -> ApiError:
    return ApiError(
        429, "rate_limit_error", "Number of request tokens has exceeded your rate limit", retry_after
    )


def overloaded(retry_after: float | None = 0) -> ApiError:
    return ApiError(529, "overloaded_error", "Overloaded", retry_after)


def unauthorized() -> ApiError:
    return ApiError(401, "authentication_error", "invalid x-api-key")


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    raw: str

    @property
    def tool_names(self) -> list[str]:
        return [t.get("name", "") for t in (self.body or {}).get("tools", [])]

    @property
    def is_main_turn(self) -> bool:
        """The agent's own turns offer tools; side calls (titles, quotas) do not."""
        return self.path.startswith("/v1/messages") and "count_tokens" not in self.path

    def tool_results(self) -> list[str]:
        """Texts of every tool_result the CLI sent back in this request."""
        out: list[str] = []
        for msg in (self.body or {}).get("messages", []):
            content = msg.get("content")
            if not isinstance(content, list):
                continue
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    inner = block.get("content")
                    out.append(inner if isinstance(inner, str) else json.dumps(inner))
        return out


class FakeAnthropicAPI:
    """Scripted fake; `async with FakeAnthropicAPI() as api:` then `api.base_url`."""

    def __init__(self, script: list[Step] | None = None, default: Step | None = None) -> None:
        self.script: list[Step] = list(script or [])
        self.default: Step = default or text('{"summary": "nothing more to say", "findings": []}')
        self.requests: list[Recorded] = []
        self.first_request_at: float | None = None
        self.reject_key = False  # refuse every request as a revoked or invalid key is refused
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listens on `host` (loopback, or the real node's bridge address for pods to reach), on
        `port` (default: a free one)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A short shutdown timeout: scripted delays must not hold up the end of a test.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeAnthropicAPI:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    # -- assertions helpers ----------------------------------------------------------------------
    @property
    def turns(self) -> list[Recorded]:
        return [r for r in self.requests if r.is_main_turn and r.method == "POST"]

    def all_text(self) -> str:
        return "\n".join(r.raw for r in self.requests) + "\n".join(
            json.dumps(r.headers) for r in self.requests
        )

    # -- serving ---------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.text()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = Recorded(request.method, request.path, dict(request.headers), body, raw)
        self.requests.append(rec)
        if self.reject_key:
            return self._error(unauthorized())
        if request.method == "GET" and request.path == "/v1/models":
            return self._models(request)
        if request.method != "POST" or not rec.is_main_turn:
            if "count_tokens" in request.path:
                return web.json_response({"input_tokens": 100})
            return web.json_response({"type": "error", "error": {"type": "not_found_error"}}, status=404)
        if self.first_request_at is None:
            self.first_request_at = asyncio.get_running_loop().time()
        step = self.script.pop(0) if self.script else self.default
        if callable(step):
            step = step(body or {})
        if isinstance(step, ApiError):
            return self._error(step)
        if step.delay_s:
            await asyncio.sleep(step.delay_s)
        model = (body or {}).get("model", "claude-fake")
        if body is not None and body.get("stream"):
            return await self._stream(request, step, model)
        return web.json_response(self._message(step, model))

    @staticmethod
    def _models(request: web.Request) -> web.Response:
        """A page of the models list (`limit` 1 to 1000, default 20)."""
        try:
            limit = int(request.query.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            err = ApiError(400, "invalid_request_error", "limit: Input should be between 1 and 1000")
            return FakeAnthropicAPI._error(err)
        data = [
            {"type": "model", "id": id_, "display_name": name, "created_at": created}
            for id_, name, created in MODELS[:limit]
        ]
        page = {
            "data": data,
            "has_more": len(MODELS) > limit,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
        return web.json_response(page, headers={"request-id": f"req_fake{next(_ids)}"})

    @staticmethod
    def _error(err: ApiError) -> web.Response:
        headers = {"request-id": f"req_fake{next(_ids)}"}
        if err.retry_after is not None:
            headers["retry-after"] = str(err.retry_after)
        payload = {"type": "error", "error": {"type": err.type, "message": err.message}}
        return web.json_response(payload, status=err.status, headers=headers)

    @staticmethod
    def _content(block: Text | ToolUse) -> dict[str, Any]:
        if isinstance(block, Text):
            return {"type": "text", "text": block.text}
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}

    def _message(self, step: Reply, model: str) -> dict[str, Any]:
        return {
            "id": f"msg_fake{next(_ids)}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [self._content(b) for b in step.blocks],
            "stop_reason": step.stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": step.input_tokens, "output_tokens": step.output_tokens},
        }

    async def _stream(self, request: web.Request, step: Reply, model: str) -> web.StreamResponse:
        resp = web.StreamResponse(
            status=200,
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "request-id": "req_f"},
        )
        await resp.prepare(request)

        async def send(event: str, data: dict[str, Any]) -> None:
            await resp.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())

        start = self._message(step, model)
        start.update(content=[], stop_reason=None)
        start["usage"] = {
            "input_tokens": step.input_tokens,
            "output_tokens": 1,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        await send("message_start", {"type": "message_start", "message": start})
        await send("ping", {"type": "ping"})
        for index, block in enumerate(step.blocks):
            if isinstance(block, Text):
                await send(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
                # Real streams cut text into several deltas; two are enough to exercise reassembly.
                half = len(block.text) // 2
                for piece in (block.text[:half], block.text[half:]):
                    delta = {"type": "text_delta", "text": piece}
                    await send(
                        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
                    )
            else:
                cb = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
                await send(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": cb},
                )
                js = json.dumps(block.input)
                half = len(js) // 2
                for piece in (js[:half], js[half:]):
                    delta = {"type": "input_json_delta", "partial_json": piece}
                    await send(
                        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
                    )
            await send("content_block_stop", {"type": "content_block_stop", "index": index})
        await send(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": step.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": step.output_tokens},
            },
        )
        await send("message_stop", {"type": "message_stop"})
        await resp.write_eof()
        return resp
