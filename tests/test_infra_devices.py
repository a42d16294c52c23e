"""infra/devices/: the units, the compose file and the env files agree with the code (no root)."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values

from dashcam.ops.device import DEVICE_VOLUMES
from dashcam.settings import DEVICES, Settings

DEVICES_DIR = Path(__file__).resolve().parents[1] / "infra" / "devices"
UNITS = DEVICES_DIR / "systemd"
ENV = DEVICES_DIR / "env"
NAS = DEVICES_DIR / "nas"
INSTALLED_DASHCAM = "/opt/dashcam/.venv/bin/dashcam"


def env_file(device: str) -> dict[str, str | None]:
    return dotenv_values(ENV / f"{device}.env")


def unit(name: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]  (systemd keys are case-sensitive)
    cp.read(UNITS / name)
    return cp


def test_systemd_units_say_what_they_must() -> None:
    worker = unit("dashcam-worker@.service")
    assert worker["Service"]["ExecStart"] == f"{INSTALLED_DASHCAM} worker %i"
    assert worker["Service"]["EnvironmentFile"] == "/etc/dashcam/%i.env"
    assert worker["Service"]["Restart"] == "always" and int(worker["Service"]["RestartSec"]) > 0
    assert "network-online.target" in worker["Unit"]["After"].split()
    assert "network-online.target" in worker["Unit"]["Wants"].split()
    for name, command in (
        ("dashcam-server.service", "server"),
        ("dashcam-dashboard.service", "dashboard"),
    ):
        u = unit(name)
        assert u["Service"]["ExecStart"] == f"{INSTALLED_DASHCAM} {command}"
        assert u["Service"]["EnvironmentFile"] == "/etc/dashcam/main-server.env"
        assert u["Service"]["Restart"] == "always"
        assert u["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)
def test_systemd_units_verify(tmp_path: Path) -> None:
    # verify insists ExecStart exists: point it at this checkout's dashcam.
    here = str(Path(sys.executable).with_name("dashcam"))
    for f in UNITS.glob("*.service"):
        (tmp_path / f.name).write_text(f.read_text().replace(INSTALLED_DASHCAM, here))
    template = (tmp_path / "dashcam-worker@.service").read_text()
    instances = [tmp_path / f"dashcam-worker@{d}.service" for d in DEVICES]
    for p in instances:
        p.write_text(template)
    files = [
        tmp_path / "dashcam-server.service",
        tmp_path / "dashcam-dashboard.service",
        *instances,
    ]
    p = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Unknown keys and bad values are only warnings: any output is a defect.
    assert p.returncode == 0 and not p.stderr.strip() and not p.stdout.strip(), p.stderr + p.stdout


def test_every_env_name_is_a_setting_and_every_file_loads() -> None:
    fields = set(Settings.model_fields)
    for device in DEVICES:
        text = (ENV / f"{device}.env").read_text()
        # Commented-out examples too: a typo there is copied by whoever uncomments it.
        for name in re.findall(r"\bDASHCAM_([A-Z0-9_]+)=", text):
            assert name.lower() in fields, f"{device}.env: DASHCAM_{name} is not a setting"
        s = Settings(_env_file=ENV / f"{device}.env")  # type: ignore[call-arg]
        assert s.prefect_api_url == "http://main-server:4200/api"
        assert s.prefect_api_auth is not None and ":" in s.prefect_api_auth.get_secret_value()
        values = env_file(device)
        # A value with double quotes must be single-quoted, or systemd strips its quotes.
        for line in text.splitlines():
            if line.startswith("DASHCAM_") and '"' in line:
                assert line.split("=", 1)[1].startswith("'"), (
                    f"{device}.env: quote {line!r} in '...'"
                )
        # The volumes this device uses are named explicitly (a default under data_dir would be
        # a local folder, not the share).
        for volume in DEVICE_VOLUMES[device]:
            assert values.get(f"DASHCAM_{volume.upper()}_ROOT"), f"{device}.env: no {volume} root"
        # Only the main server holds DB credentials or binds the LAN.
        on_main = device == "main-server"
        for name in (
            "DASHCAM_DATABASE_URL",
            "DASHCAM_PREFECT_DATABASE_URL",
            "DASHCAM_PREFECT_HOST",
        ):
            assert (name in values) == on_main, f"{device}.env: {name}"
    main = env_file("main-server")
    assert main["DASHCAM_DATABASE_URL"].startswith("postgresql+psycopg://")  # type: ignore[union-attr]
    assert main["DASHCAM_PREFECT_DATABASE_URL"].startswith("postgresql+asyncpg://")  # type: ignore[union-attr]
    assert main["DASHCAM_PREFECT_HOST"] == "0.0.0.0"
    workhorse = Settings(_env_file=ENV / "workhorse.env")  # type: ignore[call-arg]
    assert workhorse.onnx_providers == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert env_file("workhorse")["DASHCAM_RAW_ROOT"] == "Z:\\raw"
    # Every device shares one credential.
    assert len({env_file(d)["DASHCAM_PREFECT_API_AUTH"] for d in DEVICES}) == 1


def test_compose_mounts_what_each_nas_env_file_names() -> None:
    spec = yaml.safe_load((NAS / "compose.yaml").read_text())
    context = (NAS / spec["services"]["indoor-nas"]["build"]["context"]).resolve()
    assert (context / spec["services"]["indoor-nas"]["build"]["dockerfile"]).is_file()
    assert set(spec["services"]) == {"indoor-nas", "shed-nas"}
    for device, service in spec["services"].items():
        assert service["command"] == ["worker", device]
        assert service["env_file"] == f"/etc/dashcam/{device}.env"
        assert service["restart"] in ("always", "unless-stopped") and service["init"] is True
        mounts: dict[str, bool] = {}  # container path -> read-only
        for v in service["volumes"]:
            parts = v.split(":")
            mounts[parts[1]] = len(parts) > 2 and "ro" in parts[2].split(",")
        values = env_file(device)
        assert values["DASHCAM_DATA_DIR"] in mounts, f"{device}: its data dir is not a volume"
        for volume, access in DEVICE_VOLUMES[device].items():
            root = values[f"DASHCAM_{volume.upper()}_ROOT"]
            assert root in mounts, f"{device}: {root} ({volume}) is not mounted"
            if access == "write":
                assert not mounts[root], f"{device}: {volume} must be writable"
        code = values.get("DASHCAM_CODE_DIR")
        assert code is None or code in mounts


def test_containerfile_copies_what_exists_and_the_ignore_file_lets_through() -> None:
    text = (NAS / "Containerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text and "ffmpeg" in text
    repo = DEVICES_DIR.parents[1]
    allowed = {
        line[1:].strip()
        for line in (NAS / "Containerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for line in text.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (repo / src).exists(), f"COPY {src}: no such path"
                assert src in allowed, f"COPY {src}: excluded by Containerfile.dockerignore"


def test_windows_task_runs_the_worker_on_the_share_the_env_file_names() -> None:
    runner = (DEVICES_DIR / "windows" / "run-worker.ps1").read_text()
    install = (DEVICES_DIR / "windows" / "install-workhorse.ps1").read_text()
    assert "& $dashcam worker $Device" in runner and "DASHCAM_ENV_FILE" in runner
    drive = re.search(r'\$Drive = "([A-Z]:)"', runner).group(1)  # type: ignore[union-attr]
    assert env_file("workhorse")["DASHCAM_RAW_ROOT"].startswith(drive + "\\")  # type: ignore[union-attr]
    assert "New-ScheduledTaskTrigger -AtStartup" in install and "run-worker.ps1" in install
    assert "ExecutionTimeLimit ([TimeSpan]::Zero)" in install  # the 72 h default would stop it
