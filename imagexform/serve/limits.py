"""The upload size limit, enforced while the body arrives rather than after it is stored.

A declared ``Content-Length`` over the limit is refused before one byte of the body is read;
a chunked upload is counted as it arrives and refused at the first byte past the limit, so a
client can never make the server hold more than the limit for one request.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagexform.serve.errors import ApiError, error_response


class BodyLimit:
    """ASGI middleware refusing request bodies over ``max_bytes`` with a 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, size: str) -> str:
        return f"the request body ({size}) is over the {self.max_bytes}-byte upload limit"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"").decode("latin-1")
        if declared.strip().isdigit() and int(declared) > self.max_bytes:
            response = error_response(413, self._too_large(f"{int(declared)} bytes"))
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise ApiError(413, self._too_large(f"over {self.max_bytes} bytes so far"))
            return message

        await self.app(scope, counted, send)
