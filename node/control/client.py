"""The CLI side of the local control API: find, fetch, notify-move via the running node."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from config.schema import NodeConfig
from node.control.api import read_control_file
from node.errors import NodeError


def _open(cfg: NodeConfig, path: str, payload: dict[str, Any] | None, timeout: float) -> Any:
    ctl = read_control_file(cfg)
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(  # noqa: S310 (our own node's URL from control.json)
        ctl["url"].rstrip("/") + path, data=data, method="GET" if data is None else "POST",
        headers={"Authorization": f"Bearer {ctl['token']}", "Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("error", "")
        except ValueError:
            detail = exc.reason
        raise NodeError(f"node refused the request: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise NodeError(f"cannot reach the running node at {ctl['url']} ({exc}); "
                        f"is it running? (statenode serve -c {cfg.config_path})") from exc


def call(cfg: NodeConfig, path: str, payload: dict[str, Any] | None = None,
         timeout: float = 60.0) -> Any:
    with _open(cfg, path, payload, timeout) as resp:
        return json.loads(resp.read())


def stream(cfg: NodeConfig, path: str, payload: dict[str, Any],
           timeout: float = 120.0) -> Iterator[dict[str, Any]]:
    with _open(cfg, path, payload, timeout) as resp:
        for line in resp:
            if line.strip():
                yield json.loads(line)
