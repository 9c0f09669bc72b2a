"""The requester's copies of holders' discover filters (issue 14; docs/PROTOCOL.md
"Signed discover filter").

`PeerFilters.filter_of(services, entry)` gives a holder's verified filter: the one its
version 2 key document names (`discover_filter`), fetched by `GET
{endpoint}/federation/v1/discover-filter` and cached per (holder, version), so it is
fetched again only when the key document — refetched when a `discover_reply` names a
newer `filter_version` (`at_least`) — names a new version. A filter is used only when its
signature verifies with the holder's directory signing keys, it is the one the key
document names, and its key id is that of the OPRF key pinned in the holder's directory
entry. A filter fuller than its declared record count allows (`stuffing_problem`) raises
`SuspiciousFilter`: the requester reports it (and `record_round(suspicious=True)` counts
it for /status and `doctor`) instead of treating every query as a hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

from node import clock
from node.directory.client import read_capped
from node.errors import PeerUnavailable
from node.services import Services
from protocol.directory import DirectoryEntry
from protocol.discover_signed import (
    MAX_WRAPPER_BYTES,
    SignedFilter,
    open_filter,
    stuffing_problem,
)
from protocol.errors import ProtocolError

FILTER_PATH = "/federation/v1/discover-filter"


class SuspiciousFilter(PeerUnavailable):
    """The holder's filter is fuller than its declared record count allows."""


@dataclass
class PeerFilters:
    """Verified filters by holder; `fetches` counts GETs (a new version each)."""

    _filters: dict[str, SignedFilter] = field(default_factory=dict)
    fetches: int = 0

    def cached(self, node_id: str) -> SignedFilter | None:
        return self._filters.get(node_id)

    async def filter_of(self, services: Services, entry: DirectoryEntry, *,
                        at_least: int = 0) -> SignedFilter:
        """The holder's current verified filter (of version `at_least` or newer)."""
        if entry.oprf_key is None:
            raise PeerUnavailable(f"{entry.node_id} has no OPRF key in the directory")
        now = clock.now_ms()
        doc = await services.peer_keys.key_document(services.session, entry, now)
        if doc.discover_filter is None or doc.discover_filter.version < at_least:
            services.peer_keys.invalidate(entry.node_id)  # it names a newer one by now
            doc = await services.peer_keys.key_document(services.session, entry, now)
        info = doc.discover_filter
        if info is None:
            raise PeerUnavailable(f"{entry.node_id} publishes no discover filter")
        cached = self._filters.get(entry.node_id)
        if cached is not None and cached.info == info:
            return cached
        errors = []
        for endpoint in entry.endpoints:
            url = endpoint.rstrip("/") + FILTER_PATH
            try:
                async with services.session.get(
                        url, timeout=aiohttp.ClientTimeout(total=services.cfg.peers.timeout)
                        ) as resp:
                    if resp.status != 200:
                        raise PeerUnavailable(f"{url} answered HTTP {resp.status}")
                    data = await read_capped(resp, MAX_WRAPPER_BYTES)
                self.fetches += 1
                signed = open_filter(data, signing_keys=entry.signing_keys(),
                                     node_id=entry.node_id, expected=info,
                                     oprf_public_key=entry.oprf_key)
            except (PeerUnavailable, ProtocolError, aiohttp.ClientError, TimeoutError,
                    OSError) as exc:
                errors.append(f"{url}: {exc}")
                continue
            problem = stuffing_problem(signed.filter, signed.info)
            if problem is not None:
                raise SuspiciousFilter(f"{entry.node_id}'s discover filter version "
                                       f"{info.version} is suspicious: {problem}")
            self._filters[entry.node_id] = signed
            return signed
        raise PeerUnavailable(f"cannot get {entry.node_id}'s discover filter: "
                              + "; ".join(errors))
