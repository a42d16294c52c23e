"""`dashcam doctor` and `dashcam worker` as a device runs them: subprocesses against a real
Prefect server with basic auth (one per module), plus fast checks without a server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashcam.ops.commands import worker_args
from dashcam.ops.device import scrub
from dashcam.ops.doctor import gpu_check, onnx_check, run_checks
from dashcam.settings import Settings
from flows.config import volumes
from models.db import redact_url
from tests.conftest import free_port, prefect_client, wait_for

EXE = [sys.executable, "-m", "dashcam.cli"]
AUTH = "doctor-user:Rr7-right-horse-battery"
WRONG = "doctor-user:Ww9-wrong-staple"


def device_env(base: dict[str, str], **values: object) -> dict[str, str]:
    """A clean environment for a device: no DASHCAM_/PREFECT_ leaking in from the test run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHCAM_", "PREFECT_"))}
    env.update(base)
    env.update({f"DASHCAM_{k.upper()}": str(v) for k, v in values.items()})
    return env


def run(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*EXE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


def assert_no_secret(p: subprocess.CompletedProcess) -> None:
    for secret in (AUTH, WRONG, AUTH.split(":")[1], WRONG.split(":")[1]):
        assert secret not in p.stdout and secret not in p.stderr, "a credential was printed"


def by_name(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """`dashcam server` as the main server's unit runs it: a real Prefect server on a free
    loopback port that demands AUTH; it creates the four pools itself."""
    tmp = tmp_path_factory.mktemp("doctor")
    port = free_port()
    values = {
        "data_dir": tmp / "server",
        "prefect_port": port,
        "prefect_api_url": f"http://127.0.0.1:{port}/api",
        "prefect_api_auth": AUTH,
    }
    s = Settings(**values)
    s.data_dir.mkdir(parents=True)
    log = open(tmp / "server.log", "w+")  # noqa: SIM115 (read back on failure)
    proc = subprocess.Popen(
        [*EXE, "server"],
        env=device_env({}, **values),
        cwd=s.data_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def ready() -> bool:
        assert proc.poll() is None, (tmp / "server.log").read_text()[-3000:]
        return "pools and crash automation in place" in (tmp / "server.log").read_text()

    try:
        wait_for(ready, 180, "dashcam server", every=0.5)
        yield s
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()
        assert AUTH.split(":")[1] not in (tmp / "server.log").read_text()


@pytest.fixture
def device(server: Settings, tmp_path: Path) -> dict[str, object]:
    """A workhorse's settings: its own mount paths for raw and work, the server's API."""
    (tmp_path / "mnt" / "raw").mkdir(parents=True)
    (tmp_path / "mnt" / "heavy_output").mkdir(parents=True)
    return {
        "data_dir": tmp_path / "data",
        "raw_root": tmp_path / "mnt" / "raw",
        "work_root": tmp_path / "mnt" / "heavy_output",
        "prefect_api_url": server.prefect_api_url,
        "prefect_api_auth": AUTH,
        "device_name": "testbox",
    }


# --- against a real server ---


@pytest.mark.slow
def test_doctor_passes_on_a_good_workhorse(device: dict, tmp_path: Path) -> None:
    p = run(["doctor", "--device", "workhorse", "--json"], device_env({}, **device), tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    report = json.loads(p.stdout)
    checks = by_name(report)
    assert report["ok"] and report["device"] == "workhorse"
    for name in (
        "prefect api",
        "prefect credential",
        "pool workhorse",
        "volume raw (read)",
        "volume work (write)",
        "ffmpeg",
        "onnx providers",
    ):
        assert checks[name]["status"] == "pass", checks[name]
    # CPU-only CI: the GPU is a warning (CPU works, slowly), not a failure.
    assert checks["gpu"]["status"] in ("pass", "warn")
    # The write test leaves nothing behind on the share.
    assert list(Path(device["work_root"]).iterdir()) == []
    assert_no_secret(p)


@pytest.mark.slow
def test_doctor_passes_on_the_main_server_that_dashcam_server_set_up(
    server: Settings, tmp_path: Path
) -> None:
    for volume in ("raw", "work", "archive"):
        volumes(server).volume_root(volume).mkdir(parents=True, exist_ok=True)
    env = device_env(
        {}, data_dir=server.data_dir, prefect_api_url=server.prefect_api_url, prefect_api_auth=AUTH
    )
    p = run(["doctor", "--device", "main-server", "--json"], env, tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    checks = by_name(json.loads(p.stdout))
    assert checks["app database"]["status"] == "pass"  # dashcam server migrated it
    assert checks["pool main-server"]["status"] == "pass"
    assert_no_secret(p)


@pytest.mark.slow
def test_doctor_says_the_credential_was_refused_and_never_prints_it(
    device: dict, tmp_path: Path
) -> None:
    p = run(
        ["doctor", "--device", "workhorse", "--json"],
        device_env({}, **(device | {"prefect_api_auth": WRONG})),
        tmp_path,
    )
    assert p.returncode == 1
    check = by_name(json.loads(p.stdout))["prefect credential"]
    assert check["status"] == "fail"
    assert "refused the credential in DASHCAM_PREFECT_API_AUTH (HTTP 401)" in check["detail"]
    assert "set the same user:password as the server" in check["detail"]
    assert_no_secret(p)
    # The text form says it as clearly.
    p = run(
        ["doctor", "--device", "workhorse"],
        device_env({}, **(device | {"prefect_api_auth": WRONG})),
        tmp_path,
    )
    assert p.returncode == 1 and "FAIL  prefect credential" in p.stdout
    assert_no_secret(p)
    # No credential at all against a server that demands one.
    env = device_env({}, **{k: v for k, v in device.items() if k != "prefect_api_auth"})
    p = run(["doctor", "--device", "workhorse", "--json"], env, tmp_path)
    check = by_name(json.loads(p.stdout))["prefect credential"]
    assert p.returncode == 1 and "DASHCAM_PREFECT_API_AUTH is not set" in check["detail"]


@pytest.mark.slow
def test_doctor_fails_on_a_missing_or_read_only_work_volume(device: dict, tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted"
    p = run(
        ["doctor", "--device", "workhorse", "--json"],
        device_env({}, **(device | {"work_root": missing})),
        tmp_path,
    )
    assert p.returncode == 1
    check = by_name(json.loads(p.stdout))["volume work (write)"]
    assert (
        check["status"] == "fail"
        and "does not exist" in check["detail"]
        and "DASHCAM_WORK_ROOT" in check["fix"]
    )

    if os.geteuid() == 0:
        # root writes through permission bits; /proc refuses new files to everyone.
        read_only = Path("/proc/self")
    else:
        read_only = tmp_path / "ro"
        read_only.mkdir()
        read_only.chmod(stat.S_IRUSR | stat.S_IXUSR)
    p = run(
        ["doctor", "--device", "workhorse", "--json"],
        device_env({}, **(device | {"work_root": read_only})),
        tmp_path,
    )
    assert p.returncode == 1
    check = by_name(json.loads(p.stdout))["volume work (write)"]
    assert check["status"] == "fail" and "cannot create a file" in check["detail"], check
    # raw is only read on a workhorse: the same read-only path is fine there.
    p = run(
        ["doctor", "--device", "workhorse", "--json"],
        device_env({}, **(device | {"raw_root": read_only})),
        tmp_path,
    )
    assert by_name(json.loads(p.stdout))["volume raw (read)"]["status"] == "pass"


@pytest.mark.slow
def test_doctor_fails_on_a_pool_name_the_server_does_not_have(device: dict, tmp_path: Path) -> None:
    env = device_env({}, **(device | {"pool_workhorse": "workhorce"}))
    p = run(["doctor", "--device", "workhorse", "--json"], env, tmp_path)
    check = by_name(json.loads(p.stdout))["pool workhorce"]
    assert (
        p.returncode == 1 and check["status"] == "fail" and "DASHCAM_POOL_WORKHORSE" in check["fix"]
    )
    p = run(["worker", "workhorse"], env, tmp_path, timeout=30)
    assert p.returncode == 2 and "work pool 'workhorce'" in p.stderr


@pytest.mark.slow
def test_worker_with_a_wrong_credential_stops_at_once_and_says_why(
    device: dict, tmp_path: Path
) -> None:
    start = time.monotonic()
    p = run(
        ["worker", "workhorse"],
        device_env({}, **(device | {"prefect_api_auth": WRONG})),
        tmp_path,
        timeout=30,
    )
    assert time.monotonic() - start < 15
    assert p.returncode == 2
    assert (
        "refused the credential in DASHCAM_PREFECT_API_AUTH (HTTP 401): set the same user:password as the server"
        in p.stderr
    )
    assert_no_secret(p)


@pytest.mark.slow
def test_worker_joins_its_pool_under_its_device_name(
    server: Settings, device: dict, tmp_path: Path
) -> None:
    env = device_env({}, **device)
    proc = subprocess.Popen(
        [*EXE, "worker", "workhorse", "--limit", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )

    def registered() -> bool:
        with prefect_client(server) as c:
            return any(
                w.name == "workhorse-testbox" for w in c.read_workers_for_work_pool("workhorse")
            )

    try:
        wait_for(
            lambda: registered() or proc.poll() is not None, 60, "the worker to register", every=0.5
        )
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
    finally:
        os.killpg(proc.pid, 15)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            out, _ = proc.communicate()
    assert "starting worker workhorse-testbox on pool 'workhorse'" in out
    assert AUTH not in out and AUTH.split(":")[1] not in out


# --- fast, no server ---


def test_worker_args_follow_the_settings(tmp_path: Path) -> None:
    s = Settings(
        data_dir=tmp_path, device_name="gpu1", workhorse_concurrency=3, pool_workhorse="wh"
    )
    args = worker_args(s, "workhorse")
    assert args[1:] == [
        "worker",
        "start",
        "--pool",
        "wh",
        "--type",
        "process",
        "--name",
        "workhorse-gpu1",
        "--limit",
        "3",
    ]
    assert Path(args[0]).name.startswith("prefect")
    assert worker_args(s, "workhorse", limit=1)[-2:] == ["--limit", "1"]
    assert worker_args(s, "shed-nas")[-2:] == ["--limit", "4"]  # device_concurrency
    with pytest.raises(ValueError, match="unknown device"):
        worker_args(s, "toaster")


def test_redaction() -> None:
    assert (
        redact_url("postgresql+psycopg://app:pw@db.lan:5432/dashcam")
        == "postgresql+psycopg://***@db.lan:5432/dashcam"
    )
    assert redact_url("http://main-server:4200/api") == "http://main-server:4200/api"
    # a password holding an @ keeps none of its tail
    assert redact_url("postgresql://app:p@ss@db.lan/dashcam") == "postgresql://***@db.lan/dashcam"
    s = Settings(prefect_api_auth="u:hunter22", database_url="postgresql+psycopg://app:s3cr3t@db/x")
    assert scrub("x u:hunter22 y hunter22 s3cr3t", s) == "x *** y *** ***"


def test_doctor_without_a_server_fails_fast_and_clearly(tmp_path: Path) -> None:
    env = device_env(
        {},
        data_dir=tmp_path,
        prefect_api_url=f"http://127.0.0.1:{free_port()}/api",
        prefect_api_auth=AUTH,
    )
    start = time.monotonic()
    p = run(["doctor", "--json"], env, tmp_path)
    assert time.monotonic() - start < 30
    report = json.loads(p.stdout)
    assert p.returncode == 1 and not report["ok"]
    api = by_name(report)["prefect api"]
    assert api["status"] == "fail" and "did not answer" in api["detail"]
    # Without --device every device's volumes are reported, as warnings only.
    vols = [c for c in report["checks"] if c["name"].startswith("volume ")]
    assert len(vols) == 3 and all(c["status"] == "warn" for c in vols)
    assert_no_secret(p)
    p = run(["doctor", "--device", "toaster"], env, tmp_path)
    assert p.returncode == 2 and "unknown device" in p.stderr


def test_missing_cuda_fails_on_a_workhorse(tmp_path: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this host has CUDA")
    s = Settings(
        data_dir=tmp_path, onnx_providers=["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    check, available = onnx_check(s)
    assert check.status == "fail" and "CUDAExecutionProvider" in check.detail
    assert "infra/setup.sh --gpu" in check.fix
    assert gpu_check(s, available).status == "warn"


def test_a_visible_gpu_that_is_not_used_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    smi = fake / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA GeForce RTX 3060 (UUID: GPU-x)'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    check = gpu_check(Settings(data_dir=tmp_path), ["CPUExecutionProvider"])
    assert check.status == "warn" and "RTX 3060" in check.detail and "unused" in check.detail


def test_main_server_checks_the_app_db_without_printing_its_password(tmp_path: Path) -> None:
    s = Settings(
        data_dir=tmp_path,
        prefect_api_url=f"http://127.0.0.1:{free_port()}/api",
        database_url=f"postgresql+psycopg://app:Pp5-db-secret@127.0.0.1:{free_port()}/dashcam",
    )
    checks = {c.name: c for c in run_checks(s, "main-server")}
    db = checks["app database"]
    assert db.status == "fail" and "***@127.0.0.1" in db.detail
    assert all("Pp5-db-secret" not in c.detail + c.fix for c in checks.values())


def test_code_delivery_settings_are_checked(tmp_path: Path) -> None:
    from dashcam.ops.doctor import code_check

    repo = Path(__file__).resolve().parents[1]
    assert code_check(Settings(data_dir=tmp_path, code_dir=repo)).status == "pass"
    check = code_check(Settings(data_dir=tmp_path, code_dir=tmp_path))
    assert check.status == "fail" and "not a dashcam checkout" in check.detail
    if not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--abbrev-ref", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert (
        code_check(Settings(data_dir=tmp_path, code_repo=str(repo), code_ref=head)).status == "pass"
    )
    check = code_check(
        Settings(data_dir=tmp_path, code_repo=str(repo), code_ref="no-such-branch-x")
    )
    assert check.status == "fail" and "no branch or tag" in check.detail
