"""Routes whose work blocks hand it to the thread pool once.

FastAPI runs a plain ``def`` route in the thread pool and then validates its result against the response
model in the thread pool again. Under load that second hand-off queues behind the ranking work of requests that
arrived later, so a response that is ready waits for them. :func:`in_thread` turns the route into a coroutine
that runs its body in the pool in one hand-off; the validation (a fraction of a millisecond) then runs on the
event loop. FastAPI reads the parameters and their annotations from the wrapped function.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")


def in_thread(route: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    @functools.wraps(route)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return await run_in_threadpool(route, *args, **kwargs)

    return run
