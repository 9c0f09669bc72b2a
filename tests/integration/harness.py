"""Real federations for integration tests: a directory process and node processes on
loopback ports the OS picks, real SQLite files, real HTTP between nodes.

Nodes are created with the same code paths as `statenode init` / `directory init` /
`import`; processes are `python -m node serve` and `python -m node directory serve`.
Known children are added to the synthetic records so tests can search for them.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.ops.demo import free_port

ROOT = Path(__file__).resolve().parents[2]
#: the release this one upgrades: the last one that landed (stop 18; tests/integration/
#: test_mixed_release.py runs its code, taken from git, as nodes one release behind)
PREVIOUS_RELEASE = "ed70d0d1c1d6d36804d1025a0e4b024fbd2b2891"
FAST = ('\n[peers]\ntimeout = "3s"\nbackoff_initial = "1s"\nbackoff_max = "5s"\n'
        '[jobs]\noutbox_interval = "1s"\n[exchange]\nmax_clock_skew = "30s"\n')


def previous_release(dest: Path) -> Path:
    """The previous release's packages (config, crypto, protocol, node) from git, in
    `dest`; a clear error when this checkout has no git or not that commit."""
    if shutil.which("git") is None:
        raise RuntimeError("the mixed-release tests need git, to take the previous release "
                           f"({PREVIOUS_RELEASE[:10]}) from this repository's history")
    found = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e",
                            PREVIOUS_RELEASE + "^{commit}"], capture_output=True, check=False)
    if found.returncode != 0:
        raise RuntimeError(f"commit {PREVIOUS_RELEASE[:10]} (the previous release) is not in "
                           f"this clone's history; fetch it (a shallow clone lacks it)")
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar",
                              PREVIOUS_RELEASE, "config", "crypto", "protocol", "node"],
                             capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


#: run with the previous release's code: create a node folder like its `statenode init`
#: and import, print its node-info JSON (argv: folder state endpoint directory-url
#: authority-key records-file)
OLD_NODE_SCRIPT = """
import json, sys
from pathlib import Path
from config import load_config
from node.ops.node_folder import node_info, write_node
from node.importing.importer import import_files
from node.store.database import Store
folder, state, endpoint, dir_url, key, records, extra = sys.argv[1:8]
path = write_node(Path(folder), state=state, name=state + " MEP", endpoint=endpoint,
                  directory_urls=(dir_url,), authority_key=key)
with path.open("a") as f:
    f.write(extra)
with Store(load_config(path).storage.database) as store:
    report = import_files(store, [Path(records)], owner_state=state, progress=False)
assert not report.rejects, report.rejects
print(json.dumps(node_info(str(path))))
"""


def child(
    sid: str,
    first: str,
    last1: str,
    last2: str,
    birth: str,
    sex: str = "F",
    *,
    mother: tuple[str, str] = ("María", "López"),
    father: tuple[str, str] = ("José", "Hernández"),
    multiple_birth: bool = False,
    city: str = "Oaxaca",
    courses: tuple[tuple[str, str, float, float | None], ...] = (),
    middle: str = "",
) -> dict[str, Any]:
    """A student record; courses are (title, subject, attempted, granted or None)."""
    enrollment: dict[str, Any] = {
        "enrollment_id": "E1",
        "enrollment_date": "2024-08-20",
        "enrollment_type": "basic_school",
        "school_or_project_name": "Lincoln High School",
        "grade_level": "10",
        "medical_alert": "chronic",
        "immunization_record_flag": True,
        "courses": [],
    }
    for title, subject, attempted, granted in courses:
        course: dict[str, Any] = {
            "course_title": title,
            "subject_area": subject,
            "course_type": "regular",
            "begin_academic_year": 2024,
            "end_academic_year": 2025,
            "credits_attempted": attempted,
        }
        if granted is None:
            course["course_status"] = "in_progress"
        else:
            course["credits_granted"] = granted
            course["course_status"] = "completed"
            course["final_grade"] = "B"
        enrollment["courses"].append(course)
    return {
        "state_student_id": sid,
        "first_name": first,
        "middle_name": middle,
        "last_name_1": last1,
        "last_name_2": last2,
        "sex": sex,
        "birth_date": birth,
        "birth_city": city,
        "birth_country": "MEX",
        "multiple_birth": multiple_birth,
        "female_parent_first_name": mother[0],
        "female_parent_last_name": mother[1],
        "male_parent_first_name": father[0],
        "male_parent_last_name": father[1],
        "qualifying_moves": [
            {
                "qualifying_arrival_date": "2024-08-01",
                "move_from_state": "FL",
                "move_to_state": sid[:2],
                "eligibility_expiration_date": "2027-08-01",
            }
        ],
        "enrollments": [enrollment],
        "assessments": [],
    }


def count_rows(path: Path, table: str) -> int:
    """Rows in a table of a SQLite file, read with a separate connection."""
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        db.close()


#: A child in TX (exact) and CA (nickname, one surname), with courses for credit totals.
GUADALUPE_TX = child("TX900001", "Guadalupe", "Hernández", "López", "2009-03-04",
                     courses=(("Algebra I", "Mathematics", 1.0, 1.0),
                              ("English I", "English Language Arts", 1.0, 1.0),
                              ("Biology", "Science", 1.0, None)))
GUADALUPE_CA = child("CA700001", "Lupe", "Hernandez", "", "2009-03-04",
                     courses=(("Geometry", "Mathematics", 1.0, 0.5),
                              ("World History", "Social Studies", 1.0, 1.0)))


@dataclass
class Proc:
    name: str
    args: list[str]
    log: Path
    popen: subprocess.Popen[str] | None = None
    url: str = ""
    code: Path = ROOT  # the release whose code runs (the previous release's for old nodes)
    env: dict[str, str] = field(default_factory=dict)  # more environment variables

    def start(self, timeout: float = 30.0) -> str:
        env = dict(os.environ, PYTHONPATH=str(self.code), **self.env)
        with self.log.open("a") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "node", *self.args],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=env,
                cwd=self.code,
            )
        deadline = time.monotonic() + timeout
        assert self.popen.stdout is not None
        while time.monotonic() < deadline:
            line = self.popen.stdout.readline()
            if line.startswith("listening on "):
                self.url = line.split("listening on ", 1)[1].strip()
                return self.url
            if not line and self.popen.poll() is not None:
                break
        raise RuntimeError(f"{self.name} did not start; log:\n{self.log.read_text()[-3000:]}")

    def stop(self, *, kill: bool = False) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.popen.wait(15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class Federation:
    root: Path
    states: list[str]
    extra_records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    background: int = 40
    snapshot_lifetime: str = "3d"
    directory: Proc | None = None
    nodes: dict[str, Proc] = field(default_factory=dict)
    authority_key: bytes = b""
    #: states whose nodes run the previous release (`old_code`, see `previous_release`)
    old_states: tuple[str, ...] = ()
    old_code: Path | None = None
    #: states created by the previous release and since upgraded to this one
    upgraded: set[str] = field(default_factory=set)
    #: node.toml text appended per state before it is enrolled (e.g. "[discover]\n…")
    extra_config: dict[str, str] = field(default_factory=dict)
    #: environment variables of a state's node process (e.g. the STATENODE_RECORD_BODIES
    #: test hook of node/federation/endpoint.py)
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)

    def node_dir(self, state: str) -> Path:
        return self.root / state

    def config(self, state: str) -> Path:
        return self.root / state / "node.toml"

    @property
    def directory_config(self) -> Path:
        return self.root / "directory" / "directory.toml"

    def create(self) -> Federation:
        from config import load_config
        from node.authority.registry import Authority
        from node.authority.settings import init_authority
        from node.importing.importer import import_files
        from node.importing.synthetic import generate_students
        from node.ops.node_folder import node_info, write_node
        from node.store.database import Store
        from protocol.directory import NodeInfo

        dir_port = free_port()
        cfg_path, self.authority_key = init_authority(self.root / "directory")
        text = cfg_path.read_text().replace("port = 0", f"port = {dir_port}")
        text = text.replace(
            'snapshot_lifetime = "3d"', f'snapshot_lifetime = "{self.snapshot_lifetime}"'
        )
        text = text.replace('reissue_before = "2d"', 'reissue_before = "1s"')
        cfg_path.write_text(text)
        authority = Authority.open(cfg_path)
        for i, state in enumerate(self.states):
            port = free_port()
            if state in self.old_states:
                self._create_old_node(authority, state, port, dir_port, i)
                continue
            path = write_node(
                self.node_dir(state),
                state=state,
                name=f"{state} MEP",
                endpoint=f"http://127.0.0.1:{port}",
                directory_urls=(f"http://127.0.0.1:{dir_port}",),
                authority_key=base64.b64encode(self.authority_key).decode(),
            )
            # fast schedules for tests
            with path.open("a") as f:
                f.write(FAST + self.extra_config.get(state, ""))
            records = generate_students(state, self.background, 1000 + i)
            records += self.extra_records.get(state, [])
            data = self.node_dir(state) / "records.jsonl"
            data.write_text("".join(json.dumps(r) + "\n" for r in records))
            with Store(load_config(path).storage.database) as store:
                report = import_files(store, [data], owner_state=state, progress=False)
            assert not report.rejects, report.rejects
            authority.enroll(NodeInfo.from_json(json.dumps(node_info(str(path)))))
        return self

    def _create_old_node(self, authority: Any, state: str, port: int, dir_port: int,
                         i: int) -> None:
        """A node folder made, records imported and node info printed by the previous
        release's own code; enrolled with the (current) authority from that node info."""
        from node.importing.synthetic import generate_students
        from protocol.directory import NodeInfo

        assert self.old_code is not None, "old_states needs old_code (previous_release())"
        records = generate_students(state, self.background, 1000 + i)
        records += self.extra_records.get(state, [])
        data = self.root / f"{state}-records.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in records))
        out = subprocess.run(
            [sys.executable, "-c", OLD_NODE_SCRIPT, str(self.node_dir(state)), state,
             f"http://127.0.0.1:{port}", f"http://127.0.0.1:{dir_port}",
             base64.b64encode(self.authority_key).decode(), str(data), FAST],
            capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(self.old_code)),
            cwd=self.old_code, check=False, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"the previous release could not create {state}:\n{out.stderr}")
        authority.enroll(NodeInfo.from_json(out.stdout.strip().splitlines()[-1]))

    def code_of(self, state: str) -> Path:
        if state in self.old_states and state not in self.upgraded:
            assert self.old_code is not None
            return self.old_code
        return ROOT

    def start(self) -> Federation:
        self.directory = Proc(
            "directory",
            ["directory", "serve", "-c", str(self.directory_config)],
            self.root / "directory" / "directory.log",
        )
        self.directory.start()
        for state in self.states:
            self.start_node(state)
        return self

    def start_node(self, state: str) -> str:
        proc = self.nodes.get(state) or Proc(
            state, ["serve", "-c", str(self.config(state))], self.node_dir(state) / "node.log",
            code=self.code_of(state), env=self.extra_env.get(state, {}),
        )
        proc.code = self.code_of(state)
        self.nodes[state] = proc
        return proc.start()

    def stop(self) -> None:
        for proc in self.nodes.values():
            proc.stop()
        if self.directory:
            self.directory.stop()

    # -- talking to nodes ------------------------------------------------------------
    def control(
        self, state: str, path: str, payload: dict[str, Any] | None = None, timeout: float = 60.0
    ) -> Any:
        ctl = json.loads((self.node_dir(state) / "control.json").read_text())
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(
            ctl["url"] + path,
            data=data,
            headers={"Authorization": f"Bearer {ctl['token']}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read().decode()
        if path.endswith("/find"):
            return [json.loads(line) for line in body.splitlines() if line.strip()]
        return json.loads(body)

    def find(self, state: str, **criteria: Any) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        lines = self.control(state, "/local/v1/find", criteria)
        answers = {line["state"]: line for line in lines if "state" in line}
        summary = next(line["summary"] for line in lines if "summary" in line)
        return answers, summary

    def run_job(self, state: str, job: str) -> Any:
        return self.control(state, f"/local/v1/jobs/{job}", {})

    def cli(self, *args: str, check: bool = True,
            code: Path = ROOT) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, PYTHONPATH=str(code))
        proc = subprocess.run(
            [sys.executable, "-m", "node", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=code,
            check=False,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"statenode {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def post_raw(
        self,
        state: str,
        body: bytes,
        *,
        path: str = "/federation/v1/exchange",
    ) -> tuple[int, bytes, str]:
        url = self.nodes[state].url + path
        req = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/msgpack"}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers.get("Content-Type", "")


def not_owner_only(*roots: Path) -> list[str]:
    """'mode path' of every folder under `roots` (them included) that is not 0700 and of
    every file that is not 0600 (docs/SECURITY.md "Files are owner-only")."""
    out = []
    for root in roots:
        for path in [root, *sorted(root.rglob("*"))]:
            try:
                st = path.lstat()
            except FileNotFoundError:  # a running node replaced it meanwhile
                continue
            if stat.S_ISLNK(st.st_mode):
                continue
            want = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
            if stat.S_IMODE(st.st_mode) != want:
                out.append(f"{stat.S_IMODE(st.st_mode):04o} {path}")
    return out
