"""Error root of the node package; each error carries an HTTP status (Datasette style)."""

from __future__ import annotations


class NodeError(Exception):
    status = 500

    def diagnostics(self) -> str:
        return str(self)


class BadRequest(NodeError):
    status = 400


class Forbidden(NodeError):
    status = 403


class NotFound(NodeError):
    status = 404


class Conflict(NodeError):
    status = 409


class PeerUnavailable(NodeError):
    """A peer could not be reached or answered with an error; never passed through raw."""

    status = 502


class PeerTimeout(PeerUnavailable):
    """A peer did not answer within the time allowed (as opposed to failing outright)."""

    status = 504


class SourceUnavailable(NodeError):
    """A data source the node pulls from (an Ed-Fi ODS/API) failed or broke its contract;
    nothing of the pull was stored."""

    status = 502


class StorageError(NodeError):
    """The database could not be written (disk full, read-only, locked, corrupt)."""

    status = 503


class ImportRejected(NodeError):
    status = 400
