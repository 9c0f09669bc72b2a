"""Typed, frozen node settings: one dataclass per TOML table of `node.toml`.

Every field has a default (or is required) and a `help` text in its metadata;
`node.example.toml` documents every field and a test keeps the two in step.
Defaults are given in their TOML form and converted by `config.load` like
any value read from a file, so a default can never bypass validation.
Durations are written as strings like "500ms", "5s", "10m", "1h", "7d" and
stored as float seconds; sizes as "64KiB", "1MiB" and stored as int bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REQUIRED: Any = object()


def _f(raw_default: Any, help: str, *, kind: str | None = None) -> Any:
    """A setting: its TOML default (converted by the loader like any value), help and kind."""
    return field(metadata={"help": help, "kind": kind, "raw_default": raw_default})


@dataclass(frozen=True)
class NodeSection:
    id: str = _f(REQUIRED, "USPS code of this node's state, e.g. TX", kind="state")
    name: str = _f("", "Human name of the state or agency shown to peers")
    contact_phone: str = _f(
        "", "Phone number schools of other states call about a move notice this node sends, "
        "e.g. +1 512 555 0100 (part of the notice's contact); empty = none", kind="phone")
    contact_email: str = _f(
        "", "Email address for the same, e.g. records@tea.example; empty = none",
        kind="email")


@dataclass(frozen=True)
class ServerSection:
    host: str = _f("127.0.0.1", "Address the node listens on")
    port: int = _f(0, "TCP port; 0 lets the OS pick one (printed at start)")
    public_url: str = _f("", "URL peers use to reach this node; empty = derived from host:port")
    client_max_size: int = _f(1048576, "Largest accepted request body", kind="size")
    tls_cert: Path | None = _f(
        None, "PEM certificate chain; enables TLS on the listener", kind="path"
    )
    tls_key: Path | None = _f(None, "PEM private key for tls_cert (mode 0600)", kind="path")
    tls_client_ca: Path | None = _f(
        None,
        "Extra PEM CA certificates accepted for client certificates (peers' pinned "
        "self-signed certificates are trusted without it)",
        kind="path",
    )
    require_client_cert: bool = _f(
        False,
        "Mutual TLS: accept federation exchanges only from a client certificate matching "
        "the sender's directory pin (403 otherwise); needs tls_cert",
    )
    tls_min_version: str = _f(
        "1.3",
        "Oldest TLS version the listener accepts, 1.3 or 1.2; with 1.2 a peer dropped from "
        "the directory can resume a TLS session from before for up to 300 s",
    )
    metrics_from: tuple[str, ...] = _f(
        ["127.0.0.1", "::1"], "Client addresses or networks allowed to scrape GET /metrics"
    )
    trusted_proxies: tuple[str, ...] = _f(
        [], "Reverse proxies whose X-Forwarded-For is believed (for login throttling and "
        "metrics_from); empty = use the connecting address")


@dataclass(frozen=True)
class KeysSection:
    signing_key: Path = _f("keys/signing.pem", "Ed25519 signing key (PEM, 0600)", kind="path")
    encryption_dir: Path = _f(
        "keys/encryption",
        "Folder of the encryption keys, current and next: X25519 (index.json) and "
        "MLKEM768-X25519 seeds (hybrid.json)",
        kind="path",
    )
    witness_key: Path = _f(
        "keys/witness.pem",
        "Ed25519 key this node cosigns peers' checkpoints with as a witness (PEM, 0600; "
        "made at start when missing; never the signing key)",
        kind="path",
    )
    oprf_key: Path = _f(
        "keys/oprf.key",
        "RFC 9497 OPRF key (ristretto255) of the discover round (0600; made at start when "
        "missing; its public key is published in the directory entry)",
        kind="path",
    )
    passphrase_file: Path | None = _f(
        None,
        "File holding the passphrase of the key files (mode 0600); none = unencrypted",
        kind="path",
    )
    encryption_key_lifetime: float = _f(
        "7d", "How long one encryption key is valid before rotation", kind="duration"
    )


@dataclass(frozen=True)
class StorageSection:
    database: Path = _f("node.db", "SQLite database of records and node state", kind="path")
    exchange_log: Path = _f(
        "exchange-log.db",
        "SQLite file of the signed exchange log (Merkle tree, checkpoints)",
        kind="path",
    )


@dataclass(frozen=True)
class DirectorySection:
    urls: tuple[str, ...] = _f([], "Directory (or mirror) URLs, tried in order")
    authority_key: str = _f(
        "", "Base64 Ed25519 public key of the federation authority (trust anchor)"
    )
    cache_file: Path = _f("directory.msgpack", "Last good signed snapshot", kind="path")
    refresh_interval: float = _f("5m", "How often to fetch a newer snapshot", kind="duration")
    warn_before_expiry: float = _f(
        "6h", "Warn when the cached snapshot expires this soon", kind="duration"
    )

    @property
    def cache_file_v2(self) -> Path:
        """Where the version 2 snapshot is cached, beside `cache_file`."""
        return self.cache_file.with_name(f"{self.cache_file.stem}.v2{self.cache_file.suffix}")

    def cached_snapshot(self) -> bytes:
        """The newest cached snapshot's bytes (version 2 if cached), b"" when none."""
        for path in (self.cache_file_v2, self.cache_file):
            if path.is_file():
                return path.read_bytes()
        return b""


@dataclass(frozen=True)
class PeersSection:
    timeout: float = _f("5s", "Per-peer timeout of one request", kind="duration")
    backoff_initial: float = _f("10s", "First retry delay after a failure", kind="duration")
    backoff_max: float = _f("1h", "Largest retry delay", kind="duration")
    rate_limit: int = _f(600, "Requests per minute accepted from one peer (429 above)")


@dataclass(frozen=True)
class ExchangeSection:
    max_clock_skew: float = _f("2m", "Largest accepted difference between clocks", kind="duration")
    message_ttl: float = _f("5m", "Lifetime of a message this node sends", kind="duration")
    replay_window: float = _f("10m", "How long message ids are remembered", kind="duration")


@dataclass(frozen=True)
class MatchingSection:
    max_candidates: int = _f(10, "Most candidates returned to a find")


@dataclass(frozen=True)
class AuditSection:
    checkpoint_interval: float = _f("1m", "How often to sign a checkpoint", kind="duration")
    cosign_interval: float = _f(
        "10m", "How often to submit the latest checkpoint to the witnesses", kind="duration")
    origin: str = _f(
        "",
        "Origin (= key name) of this node's exchange log: a schema-less URL such as "
        "statenode.tea.example/TX/log; empty = the node id, the origin before this setting "
        "(checkpoints signed under the old origin stay verifiable after a change)",
        kind="origin",
    )
    witness_name: str = _f(
        "",
        "Key name of this node's witness cosignatures; empty = the origin with its last "
        "part replaced by witness (statenode.tea.example/TX/witness), or ID/witness",
        kind="origin",
    )
    witnesses: tuple[str, ...] = _f(
        ["*"], "Peers (node ids) this node submits its checkpoints to; * = every active peer")
    witness_quorum: int = _f(
        1, "Cosignatures (by the witnesses above) a checkpoint needs to count as witnessed")
    witness_for: tuple[str, ...] = _f(
        ["*"], "Peers (node ids) whose logs this node witnesses; * = every active peer; "
        "[] = witness nobody")


@dataclass(frozen=True)
class WebSection:
    enabled: bool = _f(True, "Serve the staff web UI")
    session_idle_timeout: float = _f("30m", "Sign out after this much inactivity", kind="duration")
    login_max_failures: int = _f(
        5, "Failed sign-ins for one account from one address that lock that pair (the address "
        "is only slowed down)")
    login_lockout: float = _f(
        "5m", "How long such a lock lasts (failures this close together count together)",
        kind="duration")
    demo_examples: bool = _f(
        False, "Show the demo's example searches on the staff home page (statenode demo "
        "sets it; the children are planted only in a demo federation)")


@dataclass(frozen=True)
class DiscoverySection:
    mdns: bool = _f(False, "Announce and browse _statenode._tcp.local. on the LAN (a hint only)")


@dataclass(frozen=True)
class DiscoverSection:
    enabled: bool = _f(
        True, "Take part in the private discover round (issue 14): publish an OPRF key and "
        "a filter, answer discover, and send discover before a find; false = plain finds")
    elements_per_minute: int = _f(
        420, "OPRF evaluations (blinded elements) one peer may ask for per minute (60 "
        "discover messages of 7 elements); above it the peer gets error rate_limited")
    burst: int = _f(
        210, "OPRF evaluations one peer may ask for at once, above the per-minute rate "
        "(at least one discover message: 7)")
    rebuild_interval: float = _f(
        "1m", "How often the running node checks whether its filter is outdated (students "
        "changed by an import from another process, a purge, a new OPRF key)",
        kind="duration")


@dataclass(frozen=True)
class JobsSection:
    outbox_interval: float = _f(
        "10s", "How often to deliver queued move notices and links", kind="duration"
    )
    import_folder: Path | None = _f(None, "Drop folder imported on a schedule", kind="path")
    import_interval: float = _f("5m", "How often to scan the drop folder", kind="duration")
    retention: float = _f("30d", "Keep sessions and cached peer data this long", kind="duration")
    retention_interval: float = _f("1h", "How often the retention purge runs", kind="duration")


@dataclass(frozen=True)
class EdfiSection:
    migrant_program_types: tuple[str, ...] = _f(
        [], "ProgramTypeDescriptor codes whose general StudentProgramAssociation also marks a "
        "migrant child, e.g. [\"Migrant Education\"] (a migrant education program "
        "association always does)")
    migrant_characteristics: tuple[str, ...] = _f(
        [], "StudentCharacteristicDescriptor codes on a StudentEducationOrganizationAssociation "
        "that mark a migrant child, e.g. [\"Migratory\"]")
    api_url: str = _f(
        "", "Base URL of the Ed-Fi ODS/API (v7, Data Standard 5.x) to pull from, under which "
        "/data/v3, /changeQueries/v1 and /oauth/token are; empty = no pull")
    token_url: str = _f("", "OAuth2 token endpoint; empty = api_url + /oauth/token")
    credentials_file: Path | None = _f(
        None, "TOML file (mode 0600) with client_id and client_secret of the API client",
        kind="path")
    pull_interval: float = _f(
        "1h", "How often the running node pulls what changed (with api_url set)",
        kind="duration")
    page_size: int = _f(500, "Items asked for per page (limit; the ODS/API allows up to 500)")
    timeout: float = _f("60s", "Timeout of one API request", kind="duration")


@dataclass(frozen=True)
class LoggingSection:
    level: str = _f("info", "debug, info, warning or error")
    format: str = _f("text", "text or json (one JSON object per line)")


@dataclass(frozen=True)
class NodeConfig:
    node: NodeSection
    server: ServerSection
    keys: KeysSection
    storage: StorageSection
    directory: DirectorySection
    peers: PeersSection
    exchange: ExchangeSection
    matching: MatchingSection
    audit: AuditSection
    web: WebSection
    discovery: DiscoverySection
    discover: DiscoverSection
    jobs: JobsSection
    edfi: EdfiSection
    logging: LoggingSection
    config_path: Path

    @property
    def log_origin(self) -> str:
        """The origin of this node's exchange log (`audit.origin`, else the node id)."""
        return self.audit.origin or self.node.id

    @property
    def witness_name(self) -> str:
        """The key name this node cosigns with as a witness."""
        if self.audit.witness_name:
            return self.audit.witness_name
        if "/" in self.log_origin:
            return self.log_origin.rsplit("/", 1)[0] + "/witness"
        return f"{self.node.id}/witness"
