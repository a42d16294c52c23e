"""Shared fixtures: real data paths, fast settings, and a real all-in-one stack on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dashcam.settings import TELEMETRY_OFF, Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


# Under pytest-xdist (`infra/test.sh` runs `-n 2 --dist loadgroup --no-loadscope-reorder`) each
# module is one unit of work, so its module fixture (a Prefect server, a cluster) starts once.
# The real-stack modules are one unit, run one after another on one worker, multi-host first
# (its cluster is gone before the session's shared stack starts for the crash and e2e tests):
# two stacks at once on CI's 2 cores started dozens of flow-run processes, runs waiting to start
# were taken for crashed, and the suite fell over. The short modules run on the other worker.
GROUPS = {"test_multihost": "stacks", "test_crash": "stacks", "test_e2e": "stacks"}
LONG_FIRST = ("test_multihost", "test_crash", "test_e2e")


def module_of(nodeid: str) -> str:
    return nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")


def group_of(nodeid: str) -> str:
    return GROUPS.get(module_of(nodeid), module_of(nodeid))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = module_of(item.nodeid)
        return LONG_FIRST.index(module) if module in LONG_FIRST else len(LONG_FIRST)

    items.sort(key=rank)  # stable: within a group, the files' own order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Units of work by `group_of` (xdist's own `xdist_group` marks are lost on pytest 9.2,
    whose node ids can no longer be rewritten)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return ByGroup(config, log)


def shared(rel: str) -> Path:
    """A file from ../shared/data, or skip the test with a clear message."""
    p = SHARED_DATA / rel
    if not p.exists():
        pytest.skip(f"real test data {p} is absent (../shared/data is beside the repo in CI)")
    return p


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, what: str, every: float = 1.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a private data dir; no Prefect needed."""
    return Settings(data_dir=tmp_path / "data", stable_seconds=0)


def ffprobe_height(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=height", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )
    return int(out.stdout.strip())


@contextmanager
def running_stack(tmp: Path, **overrides: object) -> Iterator:
    """A real Prefect server and one real worker per pool, on loopback (what `dashcam up` runs).

    Fast liveness settings so crash recovery fits in CI: heartbeats every 30 s (Prefect's
    minimum), Crashed after 40 s of silence (90 s Pending), workers polling every 0.5 s. A stage
    run that crashes or fails starts reconcile at once (the automation), so its schedule and
    ingest's are only fallbacks, slow on purpose: each scheduled run is a Python process, and at
    15 s and 30 s they kept a third of CI's two cores busy.
    """
    from dashcam.ops.stack import Stack

    port = free_port()
    values: dict = {
        "data_dir": tmp,
        "prefect_port": port,
        "dashboard_port": free_port(),
        "prefect_api_url": f"http://127.0.0.1:{port}/api",
        "ingest_interval_s": 120,  # tests call ingest_now(); the schedule is the fallback
        "reconcile_interval_s": 60,
        "stable_seconds": 2,
        "crash_after_seconds": 40,
        "pending_crash_seconds": 90,
        "max_attempts": 3,
        "worker_query_seconds": 0.5,  # quicker handoffs than the 2 s default, for CI's clock
    }
    values.update(overrides)
    s = Settings(**values)
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in s.child_env().items() if k.startswith(("PREFECT_", "DASHCAM_"))} | TELEMETRY_OFF)
    st = Stack(s)
    try:
        st.up()
        yield st
    finally:
        st.stop()
        os.environ.clear()
        os.environ.update(saved)


class Receiver:
    """An HTTP endpoint like a household's webhook: records every JSON body posted to it."""

    def __init__(self, status: int = 200) -> None:
        self.posts: list[dict] = []
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.posts.append(json.loads(body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="session")
def alert_receiver() -> Iterator[Receiver]:
    """The household's webhook for the shared stack: its watchlist alerts land here."""
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, alert_receiver: Receiver):
    """One real stack shared by the end-to-end and crash tests (each uses its own trip folders and
    video ids). Its `fault_hold_dir` lets a crash test hold a stage of one video mid-way."""
    root = tmp_path_factory.mktemp("stack")
    (root / "faults").mkdir()
    (root / "data").mkdir()
    with running_stack(root / "data", fault_hold_dir=root / "faults", alert_urls=alert_receiver.url) as st:
        yield st


def ingest_now(settings: Settings, paths: list[str], timeout: float = 180) -> None:
    """Run ingest now (as a user may after copying clips in) until every path is in the DB.

    The test stacks' ingest schedule is slow on purpose (each run is a Python process: a 3 s
    schedule kept a core busy and slowed every other stage); a run started by hand can lose to
    a scheduled one that listed raw just before the drop, hence the loop.
    """
    from sqlmodel import select

    from dashcam.ops.stack import start_ingest
    from models.db import session_scope
    from models.tables import Video

    def known() -> bool:
        with session_scope(settings.database_url) as session:
            found = set(session.exec(select(Video.path).where(Video.path.in_(paths))))  # type: ignore[attr-defined]
        return found >= set(paths)

    deadline = time.monotonic() + timeout
    while not known():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for ingest of {paths}"
        start_ingest(settings)
        wait_until = time.monotonic() + max(10.0, 3 * settings.stable_seconds)
        while time.monotonic() < wait_until and not known():
            time.sleep(1)


def prefect_client(settings: Settings):
    """A sync Prefect client for this stack, whatever this process's Prefect settings were at import."""
    from dashcam.ops.stack import client

    return client(settings)


def runs_by_flow(settings: Settings) -> dict[str, list]:
    """Every flow run on the stack's server, grouped by flow name."""
    from dashcam.ops.stack import all_flow_runs

    with prefect_client(settings) as c:
        names = {f.id: f.name for f in c.read_flows()}
        out: dict[str, list] = {}
        for r in all_flow_runs(c):
            out.setdefault(names.get(r.flow_id, "?"), []).append(r)
    return out
