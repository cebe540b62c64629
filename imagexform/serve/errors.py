"""Every error the server answers is JSON with a one-line message: ``{"error": "..."}``.

What a client did wrong is a 4xx naming the problem; anything else is a 500 whose traceback
goes to the server's log, never to the client. The server goes on serving after either.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from imagexform.errors import UserError
from imagexform.io.probe import ImageTooLargeError
from imagexform.runtime import OutOfMemoryError
from imagexform.serve.admission import RETRY_AFTER_SECONDS, QueueFull
from imagexform.serve.work import Cancelled

log = logging.getLogger(__name__)

CLIENT_CLOSED = 499  # nginx's code: nobody reads it, the access log shows it
RETRY = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class ApiError(Exception):
    """An HTTP answer other than success, raised wherever the problem is found."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def one_line(text: object) -> str:
    return " ".join(str(text).split()) or "error"


def error_response(
    status: int, message: object, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON error body every failure shares."""
    return JSONResponse({"error": one_line(message)}, status_code=status, headers=headers)


def user_error_status(exc: UserError) -> tuple[int, dict[str, str]]:
    """A too-large image is 413, running out of memory 503 (later, or smaller, may work),
    anything else the client can fix 400."""
    if isinstance(exc, ImageTooLargeError):
        return 413, {}
    if isinstance(exc, OutOfMemoryError):
        return 503, RETRY
    return 400, {}


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception the app can raise to :func:`error_response`."""

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc, exc.headers)

    async def user_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, UserError)
        status, headers = user_error_status(exc)
        return error_response(status, exc, headers)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return error_response(exc.status_code, exc.detail, exc.headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(map(str, error.get('loc', ())))}: {error.get('msg', '')}"
            for error in exc.errors()
        )
        return error_response(422, problems or "invalid request")

    async def busy(request: Request, exc: Exception) -> JSONResponse:
        return error_response(503, exc, RETRY)

    async def cancelled(request: Request, exc: Exception) -> JSONResponse:
        return error_response(CLIENT_CLOSED, "the client closed the request; its work stopped")

    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal server error; the server log has the details")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(UserError, user_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(QueueFull, busy)
    app.add_exception_handler(Cancelled, cancelled)
    app.add_exception_handler(Exception, internal)
