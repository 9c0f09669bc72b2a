"""A node's folder on disk: writing a fresh one (`statenode init`, the demo, the tests)
and describing it for enrollment (the node-info JSON the authority enrolls).

Owns the template of a new node.toml; DESIGN.md "Identities and keys" and README
"Running a node for real" say what the folder holds.
"""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import urlsplit

from config import load_config
from node.directory.identity import create_keys, load_keys
from node.directory.tls_pinning import own_pin
from node.errors import BadRequest, Conflict
from node.file_modes import private_dir, write_private
from node.store.database import Store

NODE_TOML = """\
# statenode configuration for {state}; see node.example.toml for every setting.
[node]
id = "{state}"
name = "{name}"

[server]
host = "{host}"
port = {port}
public_url = "{public_url}"

[keys]
signing_key = "keys/signing.pem"
encryption_dir = "keys/encryption"

[storage]
database = "node.db"

[directory]
# Fill in from the federation authority: its URL(s) and public key (trust anchor).
urls = [{directory_urls}]
authority_key = "{authority_key}"
cache_file = "directory.msgpack"
"""


def node_info(cfg_path: str) -> dict[str, object]:
    cfg = load_config(cfg_path)
    keys = load_keys(cfg)
    scheme = "https" if cfg.server.tls_cert is not None else "http"
    endpoint = cfg.server.public_url or f"{scheme}://{cfg.server.host}:{cfg.server.port}"
    info: dict[str, object] = {
        "node_id": cfg.node.id,
        "name": cfg.node.name or cfg.node.id,
        "endpoints": [endpoint],
        "signing_key": base64.b64encode(keys.signing.public).decode(),
        "key_id": keys.signing.key_id,
    }
    pin = own_pin(cfg)
    if pin is not None:
        info["tls_cert_sha256"] = pin.hex()
    return info


def write_node(
    folder: Path,
    *,
    state: str,
    name: str,
    endpoint: str,
    directory_urls: tuple[str, ...] = (),
    authority_key: str = "",
) -> Path:
    """Create DIR/node.toml, DIR/keys/ and DIR/node.db; refuse to overwrite a node."""
    config_path = folder / "node.toml"
    if config_path.exists() or (folder / "keys").exists():
        raise Conflict(f"{folder}: a node already exists here; refusing to overwrite it")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"--endpoint must be a URL like http://127.0.0.1:8443 (got {endpoint!r})")
    # port 0 (any free port, chosen at start) is a port, not "no port"
    port = parts.port if parts.port is not None else (443 if parts.scheme == "https" else 80)
    private_dir(folder, tighten=True)
    text = NODE_TOML.format(
        state=state,
        name=name.replace('"', "'"),
        host=parts.hostname,
        port=port,
        public_url="" if port == 0 else endpoint,
        directory_urls=", ".join(f'"{u}"' for u in directory_urls),
        authority_key=authority_key,
    )
    write_private(config_path, text)
    cfg = load_config(config_path)
    create_keys(cfg)
    Store(cfg.storage.database).close()
    return config_path
