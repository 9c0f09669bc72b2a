"""Running an aiohttp application until told to stop.

Owns binding (TCP, optional TLS), printing `listening on URL` once bound (tests
and the demo read that line), and a clean shutdown on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import ssl
from collections.abc import Callable

from aiohttp import web


async def start_site(
    app: web.Application, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context, reuse_address=True)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    scheme = "https" if ssl_context else "http"
    return runner, f"{scheme}://{bound_host}:{bound_port}"


def serve_forever(
    make_app: Callable[[], web.Application],
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    on_bound: Callable[[str, web.Application], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, printing `listening on URL` once bound."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        app = make_app()
        runner, url = await start_site(app, host, port, ssl_context=ssl_context)
        if on_bound:
            on_bound(url, app)
        print(f"listening on {url}", flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())
