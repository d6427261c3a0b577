"""Pure ASGI middleware: request ids and request body limits."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shieldwall.api.problems import MEDIA_TYPE, problem_body

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
access_log = logging.getLogger("shieldwall.access")


class RequestIdMiddleware:
    """Gives every request an id (a caller's ``X-Request-ID`` is kept when it is safe),
    stores it in ``request.state.request_id``, echoes it in the response headers, and writes
    one access-log line per request: method, path (never the query string, which may carry
    hashes), status, duration, request id and acting key or user id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = incoming if _SAFE_ID.fullmatch(incoming) else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = rid

        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info(
                "http.request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "request_id": rid,
                    "actor": scope["state"].get("actor", "-"),
                },
            )


class BodyLimitMiddleware:
    """Refuses request bodies over ``limit_for(path)`` bytes with a 413 problem.

    A declared Content-Length is checked before anything is read; a chunked body is counted
    as the app reads it and cut off at the limit, so nothing downstream ever sees an
    oversized body and nothing here holds a body in memory.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._refuse(
                        scope,
                        send,
                        400,
                        "bad-request",
                        "Bad request",
                        "the Content-Length header is not a number",
                    )
                    return
        if declared is not None:
            if declared > limit:
                await self._too_large(scope, send, limit)
                return
            await self.app(scope, receive, send)
            return

        # No Content-Length (chunked): count the bytes as the app reads them, instead of
        # holding the whole body here. Past the limit, answer 413 ourselves, tell the app the
        # client went away, and drop whatever it tries to send after that.
        size = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal size, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    refused = True
                    await self._too_large(scope, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise  # the app failing for its own reasons; the outer layers answer

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        await self._refuse(
            scope,
            send,
            413,
            "payload-too-large",
            "Payload too large",
            f"the request body is larger than the {limit:,}-byte limit for {scope['path']}",
        )

    @staticmethod
    async def _refuse(
        scope: Scope, send: Send, status: int, slug: str, title: str, detail: str
    ) -> None:
        rid = scope.get("state", {}).get("request_id", "")
        body: dict[str, Any] = problem_body(
            status=status,
            slug=slug,
            title=title,
            detail=detail,
            instance=scope["path"],
            request_id=rid,
        )
        data = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", MEDIA_TYPE.encode()),
                    (b"content-length", str(len(data)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})
