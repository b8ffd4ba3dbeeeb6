"""Several server processes on one port, each with its own listening socket (SO_REUSEPORT).

uvicorn's own ``--workers`` shares one listening socket between the processes, and an idle process's event
loop accepts every connection waiting at once: the 16 keep-alive connections of a load balancer or a load
test often all land on one process while the other has none, halving throughput until they are reopened.
Here every worker binds its own socket to the port with SO_REUSEPORT, and the kernel spreads new connections
over the sockets by a hash of their addresses. A worker joins that spread only once its app has started.

The supervisor (this module's :func:`serve_workers`, in the ``corridor serve`` process) starts the workers,
restarts one that dies, and stops them all on SIGINT or SIGTERM. A port already taken is refused before any
worker starts, so two deployments never split one port between them.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess

log = logging.getLogger("corridor.workers")

RESTARTS_PER_MINUTE = 3  # more deaths than this in a minute: the workers cannot run; stop with an error
STOP_SECONDS = 30  # a worker still running this long after SIGTERM is killed


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


def _worker(host: str, port: int, log_level: str) -> None:
    """One server process: its own socket on the shared port, then uvicorn over the app of the settings."""
    import uvicorn

    sock = port_socket(host, port)
    config = uvicorn.Config("api.app:create_app", factory=True, host=host, port=port, log_level=log_level)
    uvicorn.Server(config).run(sockets=[sock])  # listens once the app has started


def serve_workers(host: str, port: int, workers: int, log_level: str) -> None:
    """Run ``workers`` server processes on ``host:port`` until SIGINT or SIGTERM; WorkersError when the port
    is taken or the workers keep dying."""
    check_port_free(host, port)
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        log.info("stopping %d workers (%s)", workers, signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def start() -> BaseProcess:
        process = context.Process(target=_worker, args=(host, port, log_level), name="corridor-worker")
        process.start()
        log.info("started worker %s on %s:%d", process.pid, host, port)
        return process

    processes = [start() for _ in range(workers)]
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
                processes[i] = start()
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
