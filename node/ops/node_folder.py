"""A node's folder on disk: writing a fresh one (`statenode init`, the demo, the tests)
and describing it for enrollment (the node-info JSON the authority enrolls).

Owns the template of a new node.toml; DESIGN.md "Identities and keys" and README
"Running a node for real" say what the folder holds.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from config import load_config
from node.directory.identity import create_keys, ensure_keys, load_keys
from node.directory.tls_pinning import own_pin
from node.errors import BadRequest, Conflict
from node.file_modes import private_dir, write_private
from node.store.database import Store
from protocol.directory import FEATURE_DISCOVER, FEATURE_HYBRID, FEATURE_WITNESS, NodeInfo

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

[audit]
# Origin of this node's exchange log (the C2SP checkpoint origin and key name).
origin = "{origin}"
"""


def node_info(cfg_path: str, *, legacy: bool = False) -> dict[str, object]:
    """The node-info document the authority enrolls. It names the log origin, the witness
    key, the features of this release and (with `[discover] enabled`) the OPRF key;
    `legacy` leaves them out for an authority one release behind (whose strict reader
    refuses them)."""
    cfg = load_config(cfg_path)
    ensure_keys(cfg)
    keys = load_keys(cfg)
    assert keys.witness is not None  # ensure_keys made it
    scheme = "https" if cfg.server.tls_cert is not None else "http"
    endpoint = cfg.server.public_url or f"{scheme}://{cfg.server.host}:{cfg.server.port}"
    pin = own_pin(cfg)
    oprf = keys.oprf_next or keys.oprf  # a prepared next key is the one to pin
    discover = cfg.discover.enabled and oprf is not None
    info = NodeInfo(
        cfg.node.id, cfg.node.name or cfg.node.id, (endpoint,), keys.signing.public,
        keys.signing.key_id, pin,
        log_origin=cfg.audit.origin or None, witness_name=cfg.witness_name,
        witness_key=keys.witness.public,
        features=(FEATURE_HYBRID, FEATURE_WITNESS) + ((FEATURE_DISCOVER,) if discover else ()),
        oprf_key=oprf.public if discover and oprf is not None else None)
    return info.to_dict(legacy=legacy)


def default_origin(state: str, endpoint: str) -> str:
    """`<host of the endpoint>/<ID>/log`, the origin `statenode init` writes."""
    host = urlsplit(endpoint).hostname or "localhost"
    return f"{host}/{state}/log"


def write_node(
    folder: Path,
    *,
    state: str,
    name: str,
    endpoint: str,
    directory_urls: tuple[str, ...] = (),
    authority_key: str = "",
    origin: str | None = None,
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
        origin=origin or default_origin(state, endpoint),
    )
    write_private(config_path, text)
    cfg = load_config(config_path)
    create_keys(cfg)
    Store(cfg.storage.database).close()
    return config_path
