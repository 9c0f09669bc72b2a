"""Helpers shared by the directory tests: a fake clock, an authority, node folders."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

from config import load_config
from config.schema import NodeConfig
from crypto.keys import generate_signing_key
from node.authority.registry import Authority
from node.authority.settings import init_authority
from node.directory.identity import load_keys
from protocol.directory import NodeInfo

T0 = 1_900_000_000.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def ms(self) -> int:
        return int(self.t * 1000)


def make_authority(folder: Path, clock: Clock) -> Authority:
    cfg_path, _ = init_authority(folder, name="Test authority")
    return Authority.open(cfg_path, now=clock)


def make_node(root: Path, state: str, *, authority: Authority | None = None,
              urls: tuple[str, ...] = (), endpoint: str = "http://127.0.0.1:9") -> NodeConfig:
    from node.ops.node_folder import write_node

    key = base64.b64encode(authority.public_key).decode() if authority else ""
    path = write_node(root / state.lower(), state=state, name=f"State {state}",
                      endpoint=endpoint, directory_urls=urls, authority_key=key)
    return load_config(path)


def with_urls(cfg: NodeConfig, *urls: str) -> NodeConfig:
    return dataclasses.replace(cfg, directory=dataclasses.replace(cfg.directory, urls=urls))


def info_for(cfg: NodeConfig, endpoint: str = "http://127.0.0.1:9") -> NodeInfo:
    keys = load_keys(cfg)
    return NodeInfo(cfg.node.id, cfg.node.name or cfg.node.id, (endpoint,),
                    keys.signing.public, keys.signing.key_id)


def random_info(node_id: str) -> NodeInfo:
    key = generate_signing_key()
    return NodeInfo(node_id, f"State {node_id}", ("http://127.0.0.1:9",), key.public, key.key_id)
