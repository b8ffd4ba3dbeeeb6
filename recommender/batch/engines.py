"""Execution engines for batch jobs: map a chunk function over chunks, results back in chunk order.

A job is ``fn(context, chunk) -> result`` where ``context`` is large and read-only (the ranking index and
the model) and chunks are small (a few organisation rows or resolved queries). Every engine ships the
context to each worker process once, keeps a bounded number of chunks in flight (so results never pile
up in memory) and yields results in chunk order, so merging them is deterministic and engines agree to
the last bit.

- :class:`InlineEngine`: the calling process (tests, tiny jobs, one core).
- :class:`LocalEngine`: a fork-based process pool on this machine; workers inherit the context through
  ``fork`` (no pickling of the index) and use one BLAS/OpenMP thread each.
- :class:`RayEngine`: Ray tasks on a local Ray (``ray.init(num_cpus=...)``) or an existing cluster
  (``address``, which the adapter reads from ``RAY_ADDRESS``). The context is put in the object store
  once and cached in each worker process; Ray is an optional dependency, imported only here.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from types import MappingProxyType
from typing import Any

from recommender.errors import CorridorError

ChunkFn = Callable[[Any, Any], Any]
ENGINES = ("local", "ray")


class EngineError(CorridorError):
    """An engine that cannot run here (unknown name, Ray not installed, no fork start method ...)."""


def available_cpus() -> int:
    """CPUs this process may use (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def _limit_threads() -> None:
    """One BLAS/OpenMP thread per worker: the parallelism is across processes, and oversubscribing
    two cores with 2 x 2 threads only adds contention."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


class Engine:
    """Base class: ``map(fn, context, chunks)`` yields ``fn(context, chunk)`` for each chunk, in order."""

    name = "engine"
    workers = 1

    def map(self, fn: ChunkFn, context: Any, chunks: Sequence[Any]) -> Iterator[Any]:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name} ({self.workers} worker{'s' if self.workers != 1 else ''})"

    def close(self) -> None:
        """Release workers or connections the engine owns (idempotent)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InlineEngine(Engine):
    """The calling process, one BLAS/OpenMP thread (like every worker): the model's OpenMP threads gain
    little on these block sizes and stall badly when another process holds a core."""

    name = "inline"

    def map(self, fn: ChunkFn, context: Any, chunks: Sequence[Any]) -> Iterator[Any]:
        from threadpoolctl import threadpool_limits

        for chunk in chunks:
            with threadpool_limits(1):
                result = fn(context, chunk)
            yield result


# ---- local: fork-based process pool ---------------------------------------------------------------------

_WORKER_CONTEXT: Any = None


def _init_local_worker(context: Any) -> None:
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = context
    _limit_threads()


def _run_local(fn: ChunkFn, chunk: Any) -> Any:
    return fn(_WORKER_CONTEXT, chunk)


class LocalEngine(Engine):
    """Processes on this machine. ``workers=None`` uses every available CPU; 1 runs in-process."""

    name = "local"

    def __init__(self, workers: int | None = None, in_flight_per_worker: int = 3) -> None:
        if workers is not None and workers < 1:
            raise EngineError(f"workers must be at least 1, got {workers}")
        self.workers = workers or available_cpus()
        self.in_flight = max(1, in_flight_per_worker) * self.workers
        if self.workers > 1 and "fork" not in multiprocessing.get_all_start_methods():
            raise EngineError("the local engine needs the fork start method (Linux); use --engine ray")

    def map(self, fn: ChunkFn, context: Any, chunks: Sequence[Any]) -> Iterator[Any]:
        if self.workers == 1 or len(chunks) <= 1:
            yield from InlineEngine().map(fn, context, chunks)
            return
        # fork: the workers inherit ``context`` (initargs are not pickled with this start method).
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(chunks)),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_init_local_worker,
            initargs=(context,),
        )
        try:
            yield from _ordered(lambda chunk: pool.submit(_run_local, fn, chunk), Future.result, chunks, self.in_flight)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _ordered(submit: Callable[[Any], Any], result: Callable[[Any], Any], chunks: Sequence[Any], window: int):
    """Submit at most ``window`` chunks ahead of the one being yielded; yield results in chunk order."""
    pending: deque = deque()
    upcoming = iter(chunks)
    for chunk in upcoming:
        pending.append(submit(chunk))
        if len(pending) >= window:
            break
    while pending:
        value = result(pending.popleft())
        nxt = next(upcoming, _END)
        if nxt is not _END:
            pending.append(submit(nxt))
        yield value


_END = object()


# ---- Ray -------------------------------------------------------------------------------------------------

_RAY_CACHE: dict[str, Any] = {}


def _run_ray(fn: ChunkFn, token: str, boxed_context: list, chunk: Any) -> Any:
    """Runs in a Ray worker: fetch the context once per worker process (the ref is boxed in a list so Ray
    does not resolve it for every task), then run the chunk."""
    if _RAY_CACHE.get("token") != token:
        import ray

        _RAY_CACHE.clear()
        _RAY_CACHE["context"] = ray.get(boxed_context[0])
        _RAY_CACHE["token"] = token
        _limit_threads()
    return fn(_RAY_CACHE["context"], chunk)


class RayEngine(Engine):
    """Ray tasks. ``address=None`` starts a private local Ray with ``workers`` CPUs (default: available
    CPUs); an address (``ray://host:10001`` or ``host:6379``) joins that cluster, shipping this package to
    its workers (the cluster needs the same Python dependencies installed)."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, in_flight_per_cpu: int = 3) -> None:
        try:
            import ray
        except ImportError as exc:
            raise EngineError("the ray engine needs Ray: pip install 'corridor[ray]' (or pip install ray)") from exc
        self._ray = ray
        self.address = address
        self._owns = False
        if not ray.is_initialized():
            if address:
                package = str(Path(__file__).resolve().parents[1])
                ray.init(address=address, runtime_env={"py_modules": [package]}, log_to_driver=False)
            else:
                # address="local" ignores any RAY_ADDRESS in the environment: the adapter decides.
                ray.init(
                    address="local",
                    num_cpus=workers or available_cpus(),
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                )
            self._owns = True
        # The rule book holds MappingProxyType (read-only dicts), which pickle refuses; ship them as dicts.
        ray.util.register_serializer(MappingProxyType, serializer=dict, deserializer=MappingProxyType)
        self.workers = int(ray.cluster_resources().get("CPU", 1))
        self.in_flight = max(1, in_flight_per_cpu) * self.workers
        self._task = ray.remote(num_cpus=1)(_run_ray)

    def map(self, fn: ChunkFn, context: Any, chunks: Sequence[Any]) -> Iterator[Any]:
        ray = self._ray
        token = uuid.uuid4().hex
        boxed = [ray.put(context)]  # released (and evicted from the object store) when the map ends

        def submit(chunk: Any) -> Any:
            return self._task.remote(fn, token, boxed, chunk)

        yield from _ordered(submit, ray.get, chunks, self.in_flight)

    def describe(self) -> str:
        where = self.address or "local Ray"
        return f"ray ({self.workers} CPUs, {where})"

    def close(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns = False


def make_engine(name: str = "local", workers: int | None = None, address: str | None = None) -> Engine:
    """The engine called ``name`` (local or ray); ``address`` is a Ray cluster address or None."""
    if name == "local":
        return LocalEngine(workers)
    if name == "ray":
        return RayEngine(address=address, workers=workers)
    raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
