"""The address of the person or program on the other end of an HTTP request.

Behind a reverse proxy every request comes from the proxy's address, which would put
all users in one login-throttling bucket and let anyone through the proxy read
`/metrics`. Only when the connecting address is one of `server.trusted_proxies` is the
last address the proxy appended to `X-Forwarded-For` believed.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web


def _in(address: str, networks: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for net in networks:
        try:
            if ip in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(request: web.Request) -> str:
    from node.appkeys import CONFIG
    remote = request.remote or ""
    proxies = request.app[CONFIG].server.trusted_proxies
    if proxies and _in(remote, proxies):
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return remote
