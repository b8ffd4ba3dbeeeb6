"""Several server processes on one port, each with its own listening socket (SO_REUSEPORT).

uvicorn's own ``--workers`` shares one listening socket between the processes, and an idle process's event
loop accepts every connection waiting at once: the 16 keep-alive connections of a load balancer or a load
test often all land on one process while the other has none, halving throughput until they are reopened.
Here every worker binds its own socket to the port with SO_REUSEPORT, and the kernel spreads new connections
over the sockets by a hash of their addresses. A worker joins that spread only once its app has started.

The hash spreads connections unevenly: 16 keep-alive connections land 10/6 or 11/5 as often as not, and the
process holding more answers each of them later (its queue is longer), which sets the tail latency. So the
workers rebalance (:class:`ConnectionBalance`): each publishes its open connection count in memory shared with
the others, and a worker holding two or more above the least loaded one answers one request with
``Connection: close``; the client reconnects, and the kernel places the new connection afresh. The counts settle
within one of each other.

The supervisor (this module's :func:`serve_workers`, in the ``corridor serve`` process) starts the workers,
restarts one that dies, and stops them all on SIGINT or SIGTERM. A port already taken is refused before any
worker starts, so two deployments never split one port between them.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable, MutableSequence
from multiprocessing.process import BaseProcess

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recommender.settings import Settings

log = logging.getLogger("corridor.workers")

RESTARTS_PER_MINUTE = 3  # more deaths than this in a minute: the workers cannot run; stop with an error
STOP_SECONDS = 30  # a worker still running this long after SIGTERM is killed
NOT_SERVING = -1  # a worker's connection count before its app has started and after it stopped
SHED_PAUSE_SECONDS = 0.05  # after closing one connection, a worker waits this long before closing another


class WorkersError(RuntimeError):
    """The workers could not be started or kept running."""


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def check_port_free(host: str, port: int) -> None:
    """WorkersError if anything listens on ``host:port`` (bound without SO_REUSEPORT, which any listener
    refuses, another Corridor's workers included)."""
    probe = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    except OSError as exc:
        raise WorkersError(f"cannot bind {host}:{port}: {exc.strerror or exc}") from None
    finally:
        probe.close()


def port_socket(host: str, port: int) -> socket.socket:
    """A worker's own socket bound to the shared port (not listening yet)."""
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and without it a
    # response written in two parts waits out the client's delayed ACK (40 ms)
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class ConnectionBalance:
    """ASGI middleware of one worker: publishes its open connection count in ``counts[slot]`` (shared with the
    other workers) and closes one connection after its response while it holds two or more connections above
    the least loaded serving worker, one at a time (the count drops only once the client has gone)."""

    def __init__(self, app: ASGIApp, counts: MutableSequence[int], slot: int, connections: Callable[[], int]):
        self.app = app
        self.counts = counts
        self.slot = slot
        self.connections = connections
        self.shedding = False

    def should_shed(self) -> bool:
        mine = self.connections()
        self.counts[self.slot] = mine
        others = [c for i, c in enumerate(self.counts) if i != self.slot and c != NOT_SERVING]
        return not self.shedding and bool(others) and mine >= min(others) + 2

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        if scope["type"] != "http" or not self.should_shed():
            await self.app(scope, receive, send)
            return
        self.shedding = True

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message["headers"] = [*headers, (b"connection", b"close")]
            await send(message)

        try:
            await self.app(scope, receive, closing_send)
        finally:
            asyncio.get_running_loop().call_later(SHED_PAUSE_SECONDS, self._shed_done)

    def _shed_done(self) -> None:
        self.shedding = False

    def _lifespan_send(self, send: Send) -> Send:
        async def publishing_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.counts[self.slot] = 0
            elif message["type"].startswith("lifespan.shutdown"):
                self.counts[self.slot] = NOT_SERVING
            await send(message)

        return publishing_send


def threads_per_worker(workers: int) -> int:
    """Requests a worker computes at once unless the settings say otherwise: the cores shared out (at least
    one). Ranking is CPU-bound under one interpreter lock: with a worker per core, a second thread in a worker
    only takes turns with the first, and measured on 2 cores with 2 workers it lengthened the tail (p99 about
    222 ms against 202 ms with one, 16 requests in flight)."""
    return max(1, (os.cpu_count() or 1) // workers)


def _worker(host: str, port: int, log_level: str, counts: MutableSequence[int], slot: int,
            settings: Settings) -> None:
    """One server process: its own socket on the shared port, then uvicorn over the app of ``settings``,
    publishing its connection count in ``counts[slot]``."""
    import uvicorn

    from api.app import create_app

    sock = port_socket(host, port)
    app = ConnectionBalance(create_app(settings), counts, slot, lambda: len(server.server_state.connections))
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level))
    server.run(sockets=[sock])  # listens once the app has started


def serve_workers(host: str, port: int, workers: int, log_level: str, settings: Settings) -> None:
    """Run ``workers`` server processes of ``settings`` on ``host:port`` until SIGINT or SIGTERM; WorkersError
    when the port is taken or the workers keep dying. Each worker computes :func:`threads_per_worker` requests
    at once unless ``settings`` sets ``request_threads``."""
    check_port_free(host, port)
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        log.info("stopping %d workers (%s)", workers, signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    counts = context.Array("i", [NOT_SERVING] * workers, lock=False)  # open connections per worker slot
    if "request_threads" not in settings.model_fields_set:
        settings = settings.model_copy(update={"request_threads": threads_per_worker(workers)})

    def start(slot: int) -> BaseProcess:
        counts[slot] = NOT_SERVING
        process = context.Process(target=_worker, args=(host, port, log_level, counts, slot, settings),
                                  name="corridor-worker")
        process.start()
        log.info("started worker %s on %s:%d", process.pid, host, port)
        return process

    processes = [start(slot) for slot in range(workers)]
    deaths: list[float] = []
    try:
        while not stopping:
            time.sleep(0.5)
            for i, process in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                now = time.monotonic()
                deaths = [t for t in deaths if now - t < 60] + [now]
                log.error("worker %s exited with code %s", process.pid, process.exitcode)
                if len(deaths) > RESTARTS_PER_MINUTE:
                    raise WorkersError(f"{len(deaths)} workers died within a minute (the last with exit code "
                                       f"{process.exitcode}); see the log above")
                processes[i] = start(i)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker %s did not stop in %d s: killed", process.pid, STOP_SECONDS)
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
