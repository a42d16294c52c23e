"""`dashcam up` as a user runs it, on a stack of its own. Not in the real-stack group of
tests/conftest.py: it processes no clip, so it runs beside the shared stack's tests, off their serial
chain."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.slow


def test_dashcam_up_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    """`dashcam up` as a user runs it: server + four workers, telemetry off, Ctrl-C leaves nothing.
    Started with SIGINT ignored, as a script's background job is (and as a test runner's worker
    may be): `kill -INT` must stop it all the same."""
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    from tests.conftest import free_port
    from tests.test_crash import descendants

    port = free_port()
    env = {**os.environ, "DASHCAM_DATA_DIR": str(tmp_path / "data"), "DASHCAM_PREFECT_PORT": str(port),
           "DASHCAM_DASHBOARD_PORT": str(free_port()),
           "DASHCAM_PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    env.pop("PREFECT_API_URL", None)
    up = subprocess.Popen([sys.executable, "-m", "dashcam.cli", "up"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        line = wait_for(lambda: (ln := up.stdout.readline()) and "dashcam is up" in ln and ln, 240, "dashcam up")
        assert f"127.0.0.1:{port}" in line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as r:
            assert r.status == 200
        procs = descendants(up.pid)
        cmdlines = {}
        for pid in procs:
            with contextlib.suppress(OSError):
                cmdlines[pid] = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
        workers = [p for p, c in cmdlines.items() if " worker start " in c]
        pools = sorted(c.split("--pool ")[1].split()[0] for p, c in cmdlines.items() if p in workers)
        assert pools == ["indoor-nas", "main-server", "shed-nas", "workhorse"]
        server = next(p for p, c in cmdlines.items() if " server start " in c)
        for pid in [server, *workers]:
            environ = dict(
                kv.split("=", 1) for kv in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in kv
            )
            assert environ["DO_NOT_TRACK"] == "1" and environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
            if pid == server:  # waiting runs are not rewritten as Late (SQLite lock contention)
                assert environ["PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED"] == "false"
        assert (tmp_path / "data" / "logs" / "worker-workhorse.log").is_file()
        assert any("streamlit run" in c for c in cmdlines.values()), "the dashboard starts with the rest"
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(60)  # stopping is bounded (~30 s)
        except subprocess.TimeoutExpired:
            for p in [up.pid, *descendants(up.pid)]:  # leave no stack running behind the failure
                with contextlib.suppress(OSError):
                    os.kill(p, signal.SIGKILL)
            raise
    assert up.returncode == 0
    still = []
    for p in procs:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                still.append(p)
    assert still == [], f"left running: {[cmdlines.get(p) for p in still]}"


def test_ingest_waits_out_a_busy_server_and_gives_up_on_a_wrong_one(tmp_path: Path, caplog) -> None:
    """Every handoff and every ingest kick (`process`, the tests) goes through `start_run`: a
    server answering 503 (its SQLite locked) is asked again until the patience runs out; any
    other error ends it at once. A real HTTP server plays the busy one."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    from dashcam.ops.stack import start_ingest
    from dashcam.settings import Settings
    from tests.conftest import free_port

    answer = {"status": 503}
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            asked.append(self.path)
            self.send_response(answer["status"])
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"exception_message": "Service Unavailable"}')

        do_GET = do_POST = _reply  # noqa: N815 (http.server's names)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    s = Settings(data_dir=tmp_path / "data", prefect_api_url=f"http://127.0.0.1:{server.server_address[1]}/api")
    try:
        with temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: 0}):  # Prefect's own 62 s of retries off
            t0 = time.monotonic()
            with caplog.at_level("WARNING"), pytest.raises(PrefectHTTPStatusError):
                start_ingest(s, patience=10)
            assert time.monotonic() - t0 >= 10
            busy = [r for r in caplog.records if "is busy (HTTP 503) and did not start ingest/dashcam" in r.getMessage()]
            assert len(busy) >= 2, caplog.text
            caplog.clear()
            answer["status"] = 401  # a wrong credential is not a busy server
            t0 = time.monotonic()
            with caplog.at_level("WARNING"), pytest.raises(PrefectHTTPStatusError):
                start_ingest(s, patience=60)
            assert time.monotonic() - t0 < 5
            assert "is busy" not in caplog.text
    finally:
        server.shutdown()
