"""Node side of signing-key rotation through the directory.

Spec: DESIGN.md "Identities and keys" (the signing key is pinned in the directory);
PROTOCOL-ANCHORS.md §2.1 (a next key is announced before the switch) and §1.7.
The sequence, with the authority's commands in node/cli/directory.py:

1. `statenode keys rotate-signing -c node.toml --prepare`: generate the next Ed25519 key
   as `keys/signing.next.pem` (0600, same passphrase) and print its public key.
2. authority: `statenode directory announce-key -c DIRECTORY.toml TX --next-signing-key KEY`;
   the snapshot then lists both keys and peers accept signatures by either
   (`DirectoryEntry.signing_keys()`).
3. `statenode keys rotate-signing -c node.toml --switch` (after the node's directory
   refresh shows the announced key): the old key is kept as
   `keys/signing.retired-<key id>.pem`, the next key becomes `keys/signing.pem`, and a
   running node reloads it (`POST /local/v1/keys/reload`) so envelopes, key documents and
   new checkpoints are signed with it.
4. authority: `statenode directory promote-key -c DIRECTORY.toml TX`: the old key is no
   longer accepted.

`--switch` refuses unless the node's cached, verified directory lists the next key for
this node, so a node never signs with a key its peers would reject.
"""

from __future__ import annotations

import base64
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from config.schema import NodeConfig
from crypto.keys import generate_signing_key, load_signing_key, save_key
from node import clock
from node.directory.identity import load_keys, read_passphrase
from node.errors import Conflict, NodeError, NotFound
from protocol.directory import DirectorySnapshot, verify_snapshot
from protocol.errors import ProtocolError

log = logging.getLogger("statenode.keys")


def next_key_path(cfg: NodeConfig) -> Path:
    return cfg.keys.signing_key.with_name("signing.next.pem")


@dataclass(frozen=True)
class RotationState:
    current_key: str  # base64 public key
    current_key_id: str
    next_key: str | None  # prepared, not yet switched to
    announced: bool  # the directory lists the next key for this node
    directory_key: str | None  # the key the directory pins for this node
    directory_next_key: str | None


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode()


def _cached_snapshot(cfg: NodeConfig) -> DirectorySnapshot | None:
    from node.directory.client import authority_public_key

    authority = authority_public_key(cfg)
    try:
        data = cfg.directory.cache_file.read_bytes()
    except OSError:
        return None
    if authority is None:
        return None
    try:
        return verify_snapshot(data, authority, now_ms=clock.now_ms())
    except ProtocolError:
        return None


def rotation_state(cfg: NodeConfig) -> RotationState:
    passphrase = read_passphrase(cfg)
    current = load_signing_key(cfg.keys.signing_key, passphrase=passphrase)
    nxt_path = next_key_path(cfg)
    nxt = load_signing_key(nxt_path, passphrase=passphrase) if nxt_path.exists() else None
    snap = _cached_snapshot(cfg)
    entry = snap.entry(cfg.node.id) if snap is not None else None
    announced = bool(nxt and entry and nxt.public in entry.signing_keys())
    return RotationState(
        _b64(current.public) or "", current.key_id, _b64(nxt.public) if nxt else None,
        announced, _b64(entry.signing_key) if entry else None,
        _b64(entry.next_signing_key) if entry else None)


def prepare(cfg: NodeConfig) -> str:
    """Create the next signing key (once); return its base64 public key."""
    path = next_key_path(cfg)
    passphrase = read_passphrase(cfg)
    if path.exists():
        return base64.b64encode(load_signing_key(path, passphrase=passphrase).public).decode()
    key = generate_signing_key()
    save_key(path, key, passphrase=passphrase)
    return base64.b64encode(key.public).decode()


def switch(cfg: NodeConfig) -> str:
    """Make the prepared key current once the directory announces it; return the retired
    key's file name. The caller asks a running node to reload its keys."""
    path = next_key_path(cfg)
    if not path.exists():
        raise NotFound(f"{path}: no prepared next signing key; run: statenode keys "
                       f"rotate-signing -c {cfg.config_path} --prepare")
    state = rotation_state(cfg)
    if not state.announced:
        raise Conflict(
            f"the cached directory ({cfg.directory.cache_file}) does not list the next signing "
            f"key {state.next_key} for {cfg.node.id}; ask the authority to run: statenode "
            f"directory announce-key -c DIRECTORY.toml {cfg.node.id} --next-signing-key "
            f"{state.next_key}, "
            "then refresh the directory (statenode doctor shows its serial) and try again")
    retired = cfg.keys.signing_key.with_name(f"signing.retired-{state.current_key_id}.pem")
    if retired.exists():
        raise Conflict(f"{retired}: already exists; refusing to overwrite a retired key")
    os.link(cfg.keys.signing_key, retired)  # keep the old key before replacing it
    os.replace(path, cfg.keys.signing_key)
    load_keys(cfg)  # the new set must load (fails loudly otherwise)
    return retired.name


async def reload_handler(request: web.Request) -> web.Response:
    """`POST /local/v1/keys/reload`: use the key files as they are now on disk."""
    from node.control.request_schema import read_body

    await read_body(request, {})
    import asyncio

    from node.appkeys import KEYRING, SERVICES
    services = request.app[SERVICES]
    try:
        keys = await asyncio.to_thread(load_keys, services.cfg)
    except Exception as exc:
        raise NodeError(f"cannot reload keys: {exc}") from exc
    request.app[KEYRING].keys = keys
    services.log.use_signing_key(keys.signing)
    services.peer_keys.invalidate(services.node_id)
    try:  # the latest checkpoint gets the new key's signature now, not at the next job
        await services.log.sign_checkpoint_async()
    except NodeError as exc:
        log.warning("keys reloaded, but signing a checkpoint with the new key failed: %s", exc)
    # the discover filter: signed again with the new signing key, rebuilt for a new OPRF key
    from node.federation.discover import start_discover
    start_discover(services)
    return web.json_response({"signing_key_id": keys.signing.key_id})


def setup_rotation_routes(app: web.Application) -> None:
    app.router.add_post("/local/v1/keys/reload", reload_handler)
