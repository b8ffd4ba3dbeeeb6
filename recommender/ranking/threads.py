"""One OpenMP thread per request thread: concurrency comes from concurrent requests, not nested teams.

Nested OpenMP teams per request oversubscribe the cores and, on a busy machine, turn a 15 ms ranking into
hundreds of milliseconds. The OpenMP setting is per thread, so it is applied in each worker thread the
first time that thread ranks.
"""

from __future__ import annotations

import threading

_thread_state = threading.local()
_controller = None


def single_openmp_thread() -> None:
    """Limit OpenMP (the tree model's prediction) to one thread in the calling thread, once per thread."""
    global _controller
    if getattr(_thread_state, "limited", False):
        return
    from threadpoolctl import ThreadpoolController

    if _controller is None:
        _controller = ThreadpoolController()
    _controller.limit(limits=1, user_api="openmp")
    _thread_state.limited = True
