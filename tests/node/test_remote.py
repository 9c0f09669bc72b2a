"""Client addresses behind a trusted reverse proxy (login throttling, /metrics)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from config.load import load_config_data
from node.appkeys import CONFIG
from node.http_inputs import client_address


def _request(proxies: list[str], remote: str, forwarded: str | None) -> web.Request:
    app = web.Application()
    app[CONFIG] = load_config_data({"node": {"id": "TX"},
                                    "server": {"trusted_proxies": proxies}},
                                   path=Path("/tmp/node.toml"))
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}

    class _Transport:
        def get_extra_info(self, name: str, default: object = None) -> object:
            return (remote, 1234) if name == "peername" else default

    return make_mocked_request("GET", "/metrics", headers=headers, app=app,
                               transport=_Transport())


def test_forwarded_address_is_believed_only_from_a_trusted_proxy() -> None:
    assert client_address(_request([], "127.0.0.1", "203.0.113.9")) == "127.0.0.1"
    assert client_address(_request(["127.0.0.1"], "127.0.0.1", "198.51.100.1, 203.0.113.9")) \
        == "203.0.113.9"
    assert client_address(_request(["10.0.0.0/8"], "192.0.2.7", "127.0.0.1")) == "192.0.2.7"
    assert client_address(_request(["127.0.0.1"], "127.0.0.1", None)) == "127.0.0.1"
