"""Server time per response, in a ``Server-Timing: app;dur=<ms>`` header: from the request reaching the
application to its response starting. Browsers' developer tools show it, and benchmarks/web_pages.py reads it
to separate the server's time from the network's."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerTiming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                millis = (time.perf_counter() - began) * 1000
                message["headers"] = [*message.get("headers", []), (b"server-timing", f"app;dur={millis:.2f}".encode())]
            await send(message)

        await self.app(scope, receive, timed_send)
