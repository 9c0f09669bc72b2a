"""Report pages at scale: every report page of a real node over HTTP, N students.

Makes a node folder (`write_node`), generates N synthetic students (default 100,000,
`node.importing.synthetic`), imports them with `import_files` (the report aggregates off,
then computed by `report_aggregates.refresh` on their own, so both costs are printed),
times the old per-request data-quality computation (`data_quality.completeness`, what
`/data-quality` did on every request before), then serves the node in a child process
(`create_app` + `setup_web`, `serve_forever`), signs in as a data administrator and
times each report page, HTML and CSV, over HTTP: one warm-up request, then `--repeat`
requests; prints the median and the slowest. Figures, never assertions (target: each page
≤ 500 ms at 100,000 students).

    PYTHONPATH=. python bench/report_bench.py [--count N] [--repeat R] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_processes import start_listening, stop  # a sibling module

PW = "bench report pages sixty"
PAGES = ("/reports/child-count", "/reports/mobility", "/reports/move-notices",
         "/reports/worklist-aging", "/data-quality",
         "/reports/data-quality/children?group=total&element=Assessment")


def build(workdir: Path, count: int) -> Path:
    from config import load_config
    from crypto.passwords import TEST_COST, hash_password
    from node.importing import report_aggregates
    from node.importing.data_quality import completeness
    from node.importing.importer import import_files
    from node.importing.synthetic import generate_students
    from node.ops.node_folder import write_node
    from node.store import accounts
    from node.store.database import Store

    config_path = write_node(workdir / "tx", state="TX", name="Texas",
                             endpoint="http://127.0.0.1:0")
    cfg = load_config(config_path)
    t = time.perf_counter()
    students = generate_students("TX", count, seed=15)
    src = workdir / "tx.jsonl"
    with src.open("w", encoding="utf-8") as fh:
        for s in students:
            fh.write(json.dumps(s, ensure_ascii=False) + "\n")
    del students
    print(f"generated {count:,} students in {time.perf_counter() - t:.1f} s")
    with Store(cfg.storage.database, synchronous="NORMAL") as store:
        store.call(accounts.apply_migrations)
        store.call(accounts.add_user, "dana", "data_admin", hash_password(PW, TEST_COST))
        t = time.perf_counter()
        import_files(store, [src], owner_state="TX", progress=False,
                     write_rejects_files=False, refresh_reports=False)
        print(f"import (without the report aggregates): {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        meta = report_aggregates.refresh(store, "TX")
        print(f"report aggregates recomputed (what each import now adds): "
              f"{time.perf_counter() - t:.2f} s for {meta['students']} students")
        t = time.perf_counter()
        store.call(completeness, date.today())
        print(f"old per-request data-quality computation (completeness): "
              f"{time.perf_counter() - t:.2f} s")
    return config_path


def serve_main(config_path: str) -> None:
    """`report_bench.py _serve CONFIG`: the node's app with the web UI, on a free port."""
    from config import load_config
    from node.app import create_app
    from node.ops.serve import serve_forever
    from node.web.setup import setup_web

    cfg = load_config(config_path)

    def make_app():  # type: ignore[no-untyped-def]
        app = create_app(cfg)
        setup_web(app)
        return app

    serve_forever(make_app, "127.0.0.1", 0)


def sign_in(url: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(url + "/login").read().decode()
    m = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert m, "no CSRF token on the sign-in page"
    data = urllib.parse.urlencode({"username": "dana", "password": PW,
                                   "csrf_token": m.group(1), "next": "/"}).encode()
    opener.open(url + "/login", data=data).read()
    return opener


def time_page(opener: urllib.request.OpenerDirector, url: str, repeat: int,
              ) -> tuple[float, float, int]:
    opener.open(url).read()  # warm-up
    times = []
    size = 0
    for _ in range(repeat):
        t = time.perf_counter()
        with opener.open(url) as resp:
            body = resp.read()
            if resp.status != 200:
                raise SystemExit(f"{url}: HTTP {resp.status}")
        times.append(time.perf_counter() - t)
        size = len(body)
    return statistics.median(times) * 1000, max(times) * 1000, size


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "_serve":
        serve_main(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    temp = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="report-bench-")) if temp else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[str]] = []
    try:
        config_path = build(workdir, args.count)
        proc, url = start_listening([__file__, "_serve", str(config_path)], "node",
                                    workdir / "node.log")
        procs.append(proc)
        opener = sign_in(url)
        print(f"{'page':<66} {'median ms':>9} {'max ms':>8} {'bytes':>9}")
        for page in PAGES:
            for suffix in ("", "format=csv"):
                full = page + (("&" if "?" in page else "?") + suffix if suffix else "")
                median, worst, size = time_page(opener, url + full, args.repeat)
                print(f"{full:<66} {median:9.1f} {worst:8.1f} {size:9,}")
    finally:
        stop(procs)
        if temp:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
