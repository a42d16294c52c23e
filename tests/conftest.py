"""Shared fixtures: real data paths, fast settings, and a real all-in-one stack on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dashcam.settings import TELEMETRY_OFF, Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


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

    Fast liveness settings so crash recovery fits in CI: ingest every 3 s, reconcile every 10 s,
    heartbeats every 30 s (Prefect's minimum), Crashed after 40 s of silence (90 s Pending), workers polling
    every 0.5 s.
    """
    from dashcam.stack import Stack

    port = free_port()
    values: dict = {
        "data_dir": tmp,
        "prefect_port": port,
        "dashboard_port": free_port(),
        "prefect_api_url": f"http://127.0.0.1:{port}/api",
        "ingest_interval_s": 3,
        "reconcile_interval_s": 10,
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


def prefect_client(settings: Settings):
    """A sync Prefect client for this stack, whatever this process's Prefect settings were at import."""
    from dashcam.stack import client

    return client(settings)


def runs_by_flow(settings: Settings) -> dict[str, list]:
    """Every flow run on the stack's server, grouped by flow name."""
    from dashcam.bench import all_flow_runs

    with prefect_client(settings) as c:
        names = {f.id: f.name for f in c.read_flows()}
        out: dict[str, list] = {}
        for r in all_flow_runs(c):
            out.setdefault(names.get(r.flow_id, "?"), []).append(r)
    return out
