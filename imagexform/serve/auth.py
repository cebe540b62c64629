"""The optional API key: sent as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` and
compared in constant time, so response timing tells an attacker nothing about how much of a
guess was right."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from imagexform.serve.errors import ApiError

KEY_HEADER = "X-API-Key"
# Stateless, and module-level so FastAPI can resolve the annotations that name them.
_BEARER = HTTPBearer(auto_error=False)
_HEADER = APIKeyHeader(name=KEY_HEADER, auto_error=False)


def key_check(expected: str) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency refusing requests without ``expected`` (401). Declared through
    FastAPI's security classes so the docs page offers to send the key."""
    wanted = expected.encode()

    async def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
        key: Annotated[str | None, Depends(_HEADER)],
    ) -> None:
        given = key or (credentials.credentials if credentials is not None else "")
        if not hmac.compare_digest(given.encode(), wanted):
            raise ApiError(
                401,
                f"missing or wrong API key; send it as 'Authorization: Bearer KEY' or "
                f"'{KEY_HEADER}: KEY'",
                {"WWW-Authenticate": "Bearer"},
            )

    return check
