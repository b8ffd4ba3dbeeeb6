"""The sockets of `corridor serve --workers N` (api/workers.py); the processes themselves are tested on a real
server in tests/test_api_server.py."""

from __future__ import annotations

import socket

import pytest

from api.workers import WorkersError, check_port_free, port_socket
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
