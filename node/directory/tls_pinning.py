"""Mutual TLS between nodes with certificates pinned by the signed directory.

Spec: PROTOCOL-ANCHORS.md §1.3 and §5.1 item 5 (X-Road: mutual TLS whose
authentication certificate must equal the one registered for that server in
the signed global configuration). No public CA is involved; the trust comes
from the directory entry's `tls_cert_sha256` = SHA-256 of the peer
certificate's SubjectPublicKeyInfo (`crypto.tls.spki_sha256`).

Outbound (`client_connector`): an `ssl.SSLContext` that skips CA and host
name checks (`CERT_NONE`) and presents our own certificate; every request to a
pinned peer passes `ssl=SpkiPin(pin)`, which aiohttp checks right after the
handshake and *before* any request byte is sent. A mismatch raises
`aiohttp.ServerFingerprintMismatch` (caught by `node.federation.peer_client` as a
`PeerUnavailable` naming the pin).

Inbound (`server_context`): Python's `ssl` cannot accept an arbitrary client
certificate and let the application judge it (no verify callback), so the
listener asks for an optional client certificate and verifies it against a
store that holds exactly the peers' self-signed certificates whose pins match
the directory (`PeerTrust`): learned when we connect to a peer (its server
certificate is its client certificate) and by the `tls_peers` job, which
fetches the certificate of each pinned peer not yet trusted. An unknown
certificate fails the handshake. Then, when `server.require_client_cert` is
on, the exchange handler checks that the client certificate's pin equals the
directory pin of the envelope's clear `from` (`client_pin_problem`, 403).

A certificate cannot be taken out of a live `SSLContext`, so trust is dropped by
replacing the context: the listener's context switches every handshake to
`PeerTrust.current` in its SNI callback (called with or without SNI), and when a
trusted pin is no longer an active peer's (revoked, suspended, gone, or a new
certificate enrolled) the `tls_peers` job builds a new context without it. New
handshakes use it at once; open connections are not cut.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from config.errors import ConfigError
from config.schema import NodeConfig
from crypto.errors import KeyFileError
from crypto.tls import der_to_pem, spki_sha256

if TYPE_CHECKING:
    from node.directory.client import DirectoryView
    from node.services import Services
    from protocol.directory import DirectoryEntry

log = logging.getLogger("statenode.tls")

_SERVER: dict[str, ssl.SSLContext] = {}
_CLIENT: dict[str, ssl.SSLContext] = {}
_TRUST: dict[str, PeerTrust] = {}


def _key(cfg: NodeConfig) -> str:
    return str(cfg.config_path.resolve()) + "|" + cfg.node.id


def _load_chain(ctx: ssl.SSLContext, cfg: NodeConfig) -> None:
    cert, key = cfg.server.tls_cert, cfg.server.tls_key or cfg.server.tls_cert
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS certificate and key ({exc})",
                          path=str(cfg.config_path), key="server.tls_cert") from exc


def own_pin(cfg: NodeConfig) -> bytes | None:
    """Our certificate's pin (for `keys show --json` and enrollment), None without TLS."""
    if cfg.server.tls_cert is None:
        return None
    try:
        return spki_sha256(cfg.server.tls_cert.read_bytes())
    except (OSError, KeyFileError) as exc:
        raise ConfigError(f"cannot read the TLS certificate ({exc})",
                          path=str(cfg.config_path), key="server.tls_cert") from exc


def server_context(cfg: NodeConfig) -> ssl.SSLContext | None:
    """The listener's context (one per config, shared with `PeerTrust`); None without TLS."""
    if cfg.server.tls_cert is None:
        if cfg.server.require_client_cert:
            raise ConfigError("needs server.tls_cert (mutual TLS needs TLS)",
                              path=str(cfg.config_path), key="server.require_client_cert")
        return None
    k = _key(cfg)
    if k in _SERVER:
        return _SERVER[k]
    ctx = _listener_context(cfg, ())

    def switch(sslobj: ssl.SSLObject, _name: str | None, _ctx: ssl.SSLContext) -> None:
        trust = _TRUST.get(k)
        if trust is not None and trust.current is not None:
            sslobj.context = trust.current

    ctx.sni_callback = switch
    _SERVER[k] = ctx
    return ctx


def _listener_context(cfg: NodeConfig, peer_certs: Iterable[bytes]) -> ssl.SSLContext:
    """A server context trusting exactly `peer_certs` (DER) and `server.tls_client_ca`."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = (ssl.TLSVersion.TLSv1_2 if cfg.server.tls_min_version == "1.2"
                           else ssl.TLSVersion.TLSv1_3)
    _load_chain(ctx, cfg)
    ctx.verify_mode = ssl.CERT_OPTIONAL  # browsers and tools without a certificate still connect
    # No session tickets: a resumed session skips the client-certificate check, so a peer
    # dropped from the trust store could come back on an old session. TLS 1.3 resumes
    # only with tickets; TLS 1.2 session ids stay resumable for OpenSSL's 300 s session
    # lifetime (ssl offers no switch), hence server.tls_min_version = "1.3" by default.
    ctx.options |= ssl.OP_NO_TICKET
    ctx.num_tickets = 0
    if cfg.server.tls_client_ca is not None:
        try:
            ctx.load_verify_locations(str(cfg.server.tls_client_ca))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load client CA certificates ({exc})",
                              path=str(cfg.config_path), key="server.tls_client_ca") from exc
    for der in peer_certs:
        ctx.load_verify_locations(cadata=der_to_pem(der))
    return ctx


def client_context(cfg: NodeConfig) -> ssl.SSLContext:
    """Outbound context: no CA or host name check (pins do that), our certificate if any."""
    k = _key(cfg)
    if k in _CLIENT:
        return _CLIENT[k]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cfg.server.tls_cert is not None:
        _load_chain(ctx, cfg)
    _CLIENT[k] = ctx
    return ctx


class SpkiPin(aiohttp.Fingerprint):
    """aiohttp's fingerprint hook, checking the SPKI SHA-256 instead of the DER certificate."""

    def __init__(self, pin: bytes, learn: Callable[[bytes], None] | None = None) -> None:
        super().__init__(pin)
        self._learn = learn

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpkiPin) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def check(self, transport: asyncio.Transport) -> None:
        sslobj = transport.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        try:
            got = spki_sha256(der) if der else b""
        except KeyFileError:
            got = b""
        if got != self.fingerprint:
            peer = transport.get_extra_info("peername") or ("?", 0)
            raise aiohttp.ServerFingerprintMismatch(self.fingerprint, got, peer[0], peer[1])
        if self._learn is not None and der:
            self._learn(der)


class PinningConnector(aiohttp.TCPConnector):
    """A connector whose pinned requests still use our client context (with our certificate)."""

    def __init__(self, client_ctx: ssl.SSLContext, **kw: Any) -> None:
        super().__init__(ssl=client_ctx, **kw)
        self._client_ctx = client_ctx

    def _get_ssl_context(self, req: Any) -> ssl.SSLContext | None:
        if req.is_ssl() and isinstance(req.ssl, SpkiPin):
            return self._client_ctx
        return super()._get_ssl_context(req)


def client_connector(cfg: NodeConfig) -> PinningConnector:
    return PinningConnector(client_context(cfg))


def mismatch_reason(peer: str, exc: aiohttp.ServerFingerprintMismatch) -> str:
    got = exc.got.hex() if exc.got else "no certificate"
    return (f"{peer} presented a TLS certificate whose key does not match its directory pin "
            f"(expected SPKI sha256 {exc.expected.hex()}, got {got})")


class PeerTrust:
    """Peers' certificates trusted by our listener: only those matching their directory pin."""

    def __init__(self, cfg: NodeConfig) -> None:
        self.cfg = cfg
        self.certs: dict[bytes, bytes] = {}  # pin -> DER certificate
        tls = server_context(cfg) is not None
        #: what the listener verifies client certificates with (see the module docstring)
        self.current = _listener_context(cfg, ()) if tls else None

    @property
    def pins(self) -> set[bytes]:
        return set(self.certs)

    def add(self, der: bytes) -> bool:
        """Trust one certificate (already checked against a directory pin); True if new."""
        pin = spki_sha256(der)
        if self.current is None or pin in self.certs:
            return False
        self.current.load_verify_locations(cadata=der_to_pem(der))
        self.certs[pin] = der
        log.info("trusting the TLS certificate with pin %s", pin.hex()[:16])
        return True

    def keep_only(self, pins: set[bytes]) -> int:
        """Stop trusting every certificate whose pin is not in `pins` (the active peers'
        pins); return how many were dropped."""
        gone = [pin for pin in self.certs if pin not in pins]
        if self.current is None or not gone:
            return 0
        for pin in gone:
            del self.certs[pin]
            log.warning("no longer trusting the TLS certificate with pin %s: it is not an "
                        "active peer's pin in the directory", pin.hex()[:16])
        self.current = _listener_context(self.cfg, self.certs.values())
        return len(gone)

    def pin_for(self, entry: DirectoryEntry | None) -> SpkiPin | None:
        if entry is None or entry.tls_cert_sha256 is None:
            return None
        return SpkiPin(entry.tls_cert_sha256, self._learn)

    def _learn(self, der: bytes) -> None:
        try:
            self.add(der)
        except (KeyFileError, ssl.SSLError) as exc:  # pragma: no cover - checked just before
            log.warning("could not trust a peer certificate: %s", exc)

    async def fetch(self, entry: DirectoryEntry, timeout: float) -> bool:
        """Connect to the peer's https endpoints, check its pin, trust its certificate."""
        assert entry.tls_cert_sha256 is not None
        for url in entry.endpoints:
            parts = urlsplit(url)
            if parts.scheme != "https" or not parts.hostname:
                continue
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(
                    parts.hostname, parts.port or 443, ssl=client_context(self.cfg),
                    server_hostname=parts.hostname), timeout)
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                log.info("tls_peers: %s unreachable at %s (%s)", entry.node_id, url,
                         type(exc).__name__)
                continue
            try:
                sslobj = writer.get_extra_info("ssl_object")
                der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
            finally:
                writer.close()
            if der and spki_sha256(der) == entry.tls_cert_sha256:
                return self.add(der) or True
            log.warning("tls_peers: %s at %s presented a certificate that does not match its "
                        "directory pin; not trusted", entry.node_id, url)
        return False

    async def refresh(self, directory: DirectoryView) -> int:
        """Drop the certificates of peers no longer active with that pin, then fetch the
        certificate of every active pinned peer not trusted yet; return how many were new."""
        if self.current is None:
            return 0
        try:
            peers = directory.peers()
        except Exception:  # directory unavailable: nothing to learn or drop now
            return 0
        self.keep_only({e.tls_cert_sha256 for e in peers if e.tls_cert_sha256 is not None})
        missing = [e for e in peers
                   if e.tls_cert_sha256 is not None and e.tls_cert_sha256 not in self.certs]
        results = await asyncio.gather(*(self.fetch(e, self.cfg.peers.timeout) for e in missing))
        return sum(1 for r in results if r)


def peer_trust(cfg: NodeConfig) -> PeerTrust:
    k = _key(cfg)
    if k not in _TRUST:
        _TRUST[k] = PeerTrust(cfg)
    return _TRUST[k]


def request_ssl(cfg: NodeConfig, entry: DirectoryEntry | None, url: str) -> SpkiPin | bool:
    """The `ssl=` argument for a request to `url` of `entry`; ValueError for a pinned http URL."""
    pin = peer_trust(cfg).pin_for(entry)
    if pin is None:
        return True
    if not url.startswith("https://"):
        raise ValueError(f"{url} is not https although {entry.node_id if entry else '?'} "
                         "publishes a TLS pin")
    return pin


def client_pin_problem(request: web.Request, cfg: NodeConfig, directory: DirectoryView,
                       sender: str) -> str | None:
    """Why the TLS client may not speak for `sender` (None when fine or not required)."""
    if not cfg.server.require_client_cert:
        return None
    transport = request.transport
    sslobj = transport.get_extra_info("ssl_object") if transport is not None else None
    if sslobj is None:
        return "mutual TLS is required: connect over https with the node's certificate"
    der = sslobj.getpeercert(binary_form=True)
    if not der:
        return "mutual TLS is required: no client certificate was presented"
    try:
        entry = directory.current().entry(sender)
    except Exception:  # directory unavailable: the envelope check answers 503
        return None
    if entry is None:
        return None  # unknown sender: open_envelope rejects it with its own code
    if entry.tls_cert_sha256 is None:
        return f"{sender} publishes no TLS pin in the directory; mutual TLS is required"
    if spki_sha256(der) != entry.tls_cert_sha256:
        return f"the client certificate does not match the TLS pin of {sender} in the directory"
    return None


async def tls_peers_job(services: Services) -> int:
    """Scheduler job: trust the certificates of pinned peers we have not met yet, and stop
    trusting those of peers no longer active with that pin."""
    return await peer_trust(services.cfg).refresh(services.directory)
