"""Blocking work (a query wait) for a request whose client may leave before the answer.

Route handlers that compute call :func:`while_connected`: the work runs on a worker thread of
its own pool (waits are cheap but may be many: they must not starve the threads that serve other
requests), while the event loop polls the connection. A client that disconnects is a client
leaving: its scope is cancelled, which ends its waits (and kills the engine query when no other
request waits for it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import anyio
from starlette.requests import Request

from insightd.execution.cancellation import CancelScope

T = TypeVar("T")
POLL_SECONDS = 0.05
MAX_WAITING_REQUESTS = 512


def _limiter(request: Request) -> anyio.CapacityLimiter:
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "wait_limiter", None)
    if limiter is None:
        limiter = anyio.CapacityLimiter(MAX_WAITING_REQUESTS)
        request.app.state.wait_limiter = limiter
    return limiter


async def while_connected(request: Request, scope: CancelScope, work: Callable[[], T]) -> T:
    """``work()``'s result; if the client disconnects first, ``scope`` is cancelled (``work`` then
    ends with the cancellation error, which nobody reads)."""
    task = asyncio.ensure_future(anyio.to_thread.run_sync(work, limiter=_limiter(request)))
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=POLL_SECONDS)
            if not task.done() and await request.is_disconnected():
                await anyio.to_thread.run_sync(scope.cancel)
                break
        return await task
    except asyncio.CancelledError:  # the server is shutting the request down: leave as well
        scope.cancel()
        raise
