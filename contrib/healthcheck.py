"""Container health check: GET /healthz on the node's own listener (contrib/Containerfile).

Exit 0 when the node answers 200 with {"status": "ok"}, else 1. Tries https first, then
http, on 127.0.0.1:$STATENODE_PORT (default 8443). The TLS certificate is not verified:
this probe only asks whether the local process is alive (peers pin the certificate
through the directory; nothing secret is sent or read here).
"""

import json
import os
import ssl
import sys
import urllib.request

PORT = int(os.environ.get("STATENODE_PORT", "8443"))
UNVERIFIED = ssl._create_unverified_context()  # noqa: S323 (loopback liveness probe only)


def healthy(scheme: str) -> bool:
    url = f"{scheme}://127.0.0.1:{PORT}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4, context=UNVERIFIED) as reply:  # noqa: S310
            return reply.status == 200 and json.load(reply).get("status") == "ok"
    except (OSError, ValueError):
        return False


sys.exit(0 if healthy("https") or healthy("http") else 1)
