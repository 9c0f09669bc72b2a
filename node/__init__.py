"""The running statenode service: store, matching, peer API, client, jobs, web UI, CLI."""

__version__ = "0.1.0"
