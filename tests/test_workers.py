"""The sockets of `corridor serve --workers N` (api/workers.py) and the rebalancing of connections between the
workers; the processes themselves are tested on a real server in tests/test_api_server.py."""

from __future__ import annotations

import asyncio
import socket

import pytest

from api.workers import (
    NOT_SERVING,
    SHED_PAUSE_SECONDS,
    ConnectionBalance,
    WorkersError,
    check_port_free,
    port_socket,
    threads_per_worker,
)
from tests.server_support import free_port


def test_workers_sockets_share_a_port_and_are_tcp_so_responses_are_not_delayed():
    port = free_port()
    check_port_free("127.0.0.1", port)
    first, second = port_socket("127.0.0.1", port), port_socket("127.0.0.1", port)
    try:
        for sock in (first, second):
            sock.listen()
            assert sock.proto == socket.IPPROTO_TCP  # asyncio then sets TCP_NODELAY on accepted connections
        with socket.create_connection(("127.0.0.1", port)):
            pass
        with pytest.raises(WorkersError, match=f"cannot bind 127.0.0.1:{port}"):
            check_port_free("127.0.0.1", port)  # another deployment's workers hold it
    finally:
        first.close()
        second.close()
    check_port_free("127.0.0.1", port)


def test_a_port_held_by_another_program_is_refused():
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(WorkersError, match="cannot bind"):
            check_port_free("127.0.0.1", port)
        with pytest.raises(OSError):
            port_socket("127.0.0.1", port)


async def _call(balance: ConnectionBalance) -> list[tuple[bytes, bytes]]:
    """The response headers of one GET through ``balance``."""
    sent: list = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await balance({"type": "http", "method": "GET", "path": "/", "headers": []}, receive, send)
    return next(m for m in sent if m["type"] == "http.response.start")["headers"]


async def _app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"connection", b"keep-alive")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _balance(counts: list[int], mine: int) -> ConnectionBalance:
    return ConnectionBalance(_app, counts, 0, lambda: mine)


@pytest.mark.parametrize(("mine", "others", "closes"), [
    (10, [6], True),   # two or more above the least loaded: close one
    (9, [7], True),
    (8, [7], False),   # within one: keep
    (8, [8], False),
    (4, [9, 2], True),  # against the least loaded of several
    (10, [NOT_SERVING], False),  # the other worker is not serving yet: nowhere to go
])
def test_a_worker_closes_a_connection_only_when_it_holds_two_more_than_the_least_loaded(mine, others, closes):
    counts = [0, *others]
    headers = asyncio.run(_call(_balance(counts, mine)))
    assert ((b"connection", b"close") in headers) is closes
    assert [h for h in headers if h[0] == b"connection"] == [(b"connection", b"close" if closes else b"keep-alive")]
    assert counts[0] == mine  # published for the others


def test_a_worker_closes_one_connection_at_a_time():
    async def scenario():
        balance = _balance([0, 4], 10)
        first, second = await _call(balance), await _call(balance)
        await asyncio.sleep(SHED_PAUSE_SECONDS * 2)
        return first, second, await _call(balance)

    first, second, later = asyncio.run(scenario())
    assert (b"connection", b"close") in first and (b"connection", b"close") not in second
    assert (b"connection", b"close") in later


def test_a_worker_counts_as_serving_from_its_start_to_its_shutdown():
    counts = [NOT_SERVING, 5]
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    seen: list[int] = []

    async def receive():
        return next(messages)

    async def send(message):
        seen.append(counts[0])

    asyncio.run(_balance(counts, 0)({"type": "lifespan"}, receive, send))
    assert seen == [0, NOT_SERVING] and counts[0] == NOT_SERVING


def test_workers_share_the_cores_out_as_request_threads(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert [threads_per_worker(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert threads_per_worker(2) == 1
