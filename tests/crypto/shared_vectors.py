"""Where the tests find test vectors that come from outside the project.

Vectors published by other projects are data the steering side places in the shared
folder beside the project (`../shared/vectors/`, next to DESIGN.md and the Ed-Fi sample);
developers do not copy them into this repository. `shared_vector` returns the file when
it is there and None when it has not been placed yet, so a test can say exactly which
file it waits for.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent / "vectors"


def shared_vector(relative: str, env: str | None = None) -> Path | None:
    """The vector file `relative` (under vectors/), looked for in $`env`, this folder's
    vectors/ (for the ones copied from shared/), then the shared folder beside the project."""
    candidates = [Path(os.environ[env])] if env and os.environ.get(env) else []
    candidates += [HERE / relative, ROOT / ".." / "shared" / "vectors" / relative,
                   ROOT / ".." / ".." / "shared" / "vectors" / relative]
    return next((p.resolve() for p in candidates if p.is_file()), None)


def waiting_for(relative: str, source: str) -> str:
    """The reason a vector test does not run: the file the steering side has to place."""
    return (f"vectors/{relative} is not in the shared folder (../shared/vectors/) yet: "
            f"{source}. Published test vectors are placed there by the steering side, not "
            "copied into this repository; the other tests of this module still run")
