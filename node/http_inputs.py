"""What an HTTP request tells the node, read strictly: who is on the other end, and the
numbers people and programs put in URLs and query strings.

The client address: behind a reverse proxy every request comes from the proxy's address,
which would put all users in one login-throttling bucket and let anyone through the proxy
read `/metrics`. Only when the connecting address is one of `server.trusted_proxies` is
the last address the proxy appended to `X-Forwarded-For` believed.

Row ids in a path (`/worklist/{id}`, `/links/{id}/…`) are ASCII digits only and fit
SQLite's 64-bit integer: `"²".isdigit()` is true and `int("99999999999999999999999")`
overflows SQLite, and both used to answer 500. Anything else in a path is a page that
does not exist (404); a bad query parameter is a bad request (400) naming it.
"""

from __future__ import annotations

import ipaddress
import re

from aiohttp import web

from node.errors import BadRequest, NotFound


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

#: at most 18 digits: always below SQLite's largest integer (2**63 - 1)
_ROW_ID = re.compile(r"[0-9]{1,18}")


def path_id(raw: str, what: str = "item") -> int:
    """A row id from a URL path; NotFound (404) unless it is 1–18 ASCII digits."""
    if not _ROW_ID.fullmatch(raw):
        raise NotFound(f"there is no {what} {raw[:20]!r}")
    return int(raw)


def query_int(raw: str, name: str, *, default: int | None = None, maximum: int = 10**9) -> int:
    """A whole number from a query string; BadRequest (400) naming the parameter, or
    `default` when it is empty and a default is given."""
    if raw == "" and default is not None:
        return default
    if not _ROW_ID.fullmatch(raw) or int(raw) > maximum:
        raise BadRequest(f"query parameter {name!r} must be a whole number up to {maximum}")
    return int(raw)
