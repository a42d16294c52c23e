"""`dashcam doctor`: what this device needs to run its stages, checked one line at a time.

With `--device`, failures are what stops that device's runs (its pool, its volumes, its tools);
without it, the common checks (API, credential, tools) count and every device's volumes and the
app DB are reported as warnings, since one host rarely mounts everything.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal

from dashcam.ops.device import (
    DEVICE_VOLUMES,
    NEEDS_FFMPEG,
    Access,
    api_preflight,
    pool_missing,
    scrub,
)
from dashcam.settings import DEVICES, VOLUMES, Settings, Volume
from flows.config import volumes
from models.db import redact_url

Status = Literal["pass", "warn", "fail"]


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def _soften(check: Check) -> Check:
    """A failure that does not concern this device: reported, but not fatal."""
    if check.status == "fail":
        check.status = "warn"
    return check


# --- Prefect API ---


def api_checks(settings: Settings, device: str | None) -> list[Check]:
    pools = [settings.pools[device]] if device else list(settings.pools.values())
    server_version, problems, found = api_preflight(settings, pools)
    api = redact_url(settings.prefect_api_url)
    by_kind = {p.check: p for p in problems}
    if "reachable" in by_kind:
        p = by_kind["reachable"]
        return [Check("prefect api", "fail", p.message, p.fix)]
    out = [Check("prefect api", "pass", f"{api} is healthy")]
    if "credential" in by_kind:
        p = by_kind["credential"]
        return [*out, Check("prefect credential", "fail", p.message, p.fix)]
    out.append(_credential_check(settings, server_version))
    for d in [device] if device else list(DEVICES):
        pool = settings.pools[d]
        if found.get(pool):
            out.append(Check(f"pool {pool}", "pass", f"work pool {pool!r} exists"))
        else:
            p = pool_missing(settings, d)
            check = Check(f"pool {pool}", "fail", p.message, p.fix)
            out.append(check if device else _soften(check))
    out += [Check("prefect api", "fail", p.message, p.fix) for p in problems if p.check == "pool"]
    return out


def _credential_check(settings: Settings, server_version: str | None) -> Check:
    try:
        ours = version("prefect")
    except PackageNotFoundError:
        ours = "?"
    versions = f"server Prefect {server_version or '?'}, this device {ours}"
    if server_version and server_version.split(".")[:2] != ours.split(".")[:2]:
        return Check(
            "prefect credential",
            "warn",
            f"accepted, but the versions differ ({versions})",
            "install the same Prefect minor version on every device (pip install -e . from one checkout)",
        )
    if settings.prefect_api_auth is None:
        host = settings.prefect_api_url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost", "[::1]"):
            return Check(
                "prefect credential",
                "warn",
                f"the API answers without a credential ({versions}): anyone on the LAN can run flows",
                "set DASHCAM_PREFECT_API_AUTH=user:password on the server and every device",
            )
        return Check("prefect credential", "pass", f"none needed on loopback ({versions})")
    return Check("prefect credential", "pass", f"accepted ({versions})")


# --- volumes ---


def volume_check(settings: Settings, volume: Volume, access: Access) -> Check:
    root = volumes(settings).volume_root(volume)
    name = f"volume {volume} ({access})"
    var = f"DASHCAM_{volume.upper()}_ROOT"
    if not root.exists():
        return Check(
            name,
            "fail",
            f"{root} does not exist",
            f"mount the {volume} share there, or set {var} to where this device mounts it",
        )
    if not root.is_dir():
        return Check(
            name, "fail", f"{root} is not a directory", f"point {var} at the share's folder"
        )
    try:
        next(os.scandir(root), None)
    except OSError as exc:
        return Check(
            name,
            "fail",
            f"cannot list {root}: {exc.strerror or exc}",
            f"give this device's user (uid {_uid()}) read access to the share",
        )
    where = f"{root} (on {_mount_point(root)})"
    if access == "read":
        return Check(name, "pass", f"{where} is readable")
    # A real write, not os.access: root passes os.access on a read-only mount.
    probe = root / f".dashcam-doctor-{secrets.token_hex(4)}"
    try:
        with open(probe, "xb") as f:
            f.write(b"dashcam doctor write test\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        return Check(
            name,
            "fail",
            f"cannot create a file in {root}: {exc.strerror or exc}",
            f"mount the {volume} share read-write here and give uid {_uid()} write access",
        )
    finally:
        with contextlib.suppress(OSError):  # never created: nothing to remove
            probe.unlink()
    return Check(name, "pass", f"{where} is readable and writable")


def _uid() -> str:
    return str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "?")


def _mount_point(path: Path) -> Path:
    p = path.resolve()
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return p


def volume_checks(settings: Settings, device: str | None) -> list[Check]:
    if device:
        out = [volume_check(settings, v, a) for v, a in DEVICE_VOLUMES[device].items()]
        if device == "main-server" and settings.media_base_url is None:
            # The dashboard serves media from the archive; not a stage, so a warning.
            out.append(_soften(volume_check(settings, "archive", "read")))
        return out
    # Without a device: the strictest need of any device, never fatal.
    need: dict[Volume, Access] = {v: "read" for v in VOLUMES}
    for mounts in DEVICE_VOLUMES.values():
        for v, a in mounts.items():
            if a == "write":
                need[v] = "write"
    return [_soften(volume_check(settings, v, a)) for v, a in need.items()]


# --- tools, runtime, GPU, app DB, code ---


def ffmpeg_checks() -> list[Check]:
    out = []
    for tool in ("ffmpeg", "ffprobe"):
        path = shutil.which(tool)
        if path is None:
            out.append(
                Check(
                    tool,
                    "fail",
                    f"{tool} is not on PATH",
                    "install ffmpeg (Debian: apt-get install ffmpeg; Windows: winget install ffmpeg) "
                    "or run `bash infra/setup.sh`",
                )
            )
            continue
        try:
            first = subprocess.run(
                [path, "-version"], capture_output=True, text=True, timeout=20
            ).stdout.split("\n", 1)[0]
        except (OSError, subprocess.SubprocessError) as exc:
            out.append(Check(tool, "fail", f"{path} does not run: {exc}", "reinstall ffmpeg"))
            continue
        out.append(Check(tool, "pass", f"{path}: {first.strip()}"))
    return out


def onnx_check(settings: Settings) -> tuple[Check, list[str]]:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        return Check(
            "onnx runtime",
            "fail",
            f"onnxruntime does not import: {exc}",
            "run `bash infra/setup.sh`",
        ), []
    available = list(ort.get_available_providers())
    wanted = list(settings.onnx_providers)
    missing = [p for p in wanted if p not in available]
    if missing:
        fix = (
            "install the GPU runtime: `bash infra/setup.sh --gpu` (onnxruntime-gpu, with the "
            "NVIDIA driver and CUDA/cuDNN it needs)"
            if "CUDAExecutionProvider" in missing
            else f"install the runtime that provides {', '.join(missing)}"
        )
        return Check(
            "onnx providers",
            "fail",
            f"DASHCAM_ONNX_PROVIDERS asks for {', '.join(missing)}; onnxruntime {ort.__version__} "
            f"has only {', '.join(available)}",
            fix + ", or remove them from DASHCAM_ONNX_PROVIDERS to run on CPU",
        ), available
    if "CUDAExecutionProvider" in wanted:
        # Listed is not loaded: a missing cuDNN makes onnxruntime fall back to CPU silently.
        loaded = _session_providers(settings, wanted)
        if loaded is not None and "CUDAExecutionProvider" not in loaded:
            return Check(
                "onnx providers",
                "fail",
                f"CUDAExecutionProvider is installed but did not load (the plate model ran on "
                f"{', '.join(loaded)})",
                "install the CUDA and cuDNN libraries matching onnxruntime-gpu "
                f"{ort.__version__} (see onnxruntime's CUDA requirements) and the NVIDIA driver",
            ), available
    return Check(
        "onnx providers", "pass", f"onnxruntime {ort.__version__}: {', '.join(wanted)} available"
    ), available


def _session_providers(settings: Settings, providers: list[str]) -> list[str] | None:
    import onnxruntime as ort

    try:
        if settings.plate_model is not None:
            model = settings.plate_model
        else:
            from tasks.plates import default_detector_model_path

            model = default_detector_model_path()
        options = ort.SessionOptions()
        options.log_severity_level = 4
        return list(ort.InferenceSession(str(model), options, providers=providers).get_providers())
    except Exception:  # noqa: BLE001 (the model itself is not what this check is about)
        return None


def gpu_check(settings: Settings, available: list[str]) -> Check:
    gpus: list[str] = []
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
            gpus = [line for line in listing.stdout.splitlines() if line.startswith("GPU ")]
        except (OSError, subprocess.SubprocessError):
            pass
    cuda = "CUDAExecutionProvider" in available
    uses_cuda = "CUDAExecutionProvider" in settings.onnx_providers
    if not gpus and not cuda:
        return Check(
            "gpu",
            "warn",
            "no GPU visible (no nvidia-smi GPU, no CUDAExecutionProvider): heavy runs on CPU, slowly",
            "on a GPU machine install the NVIDIA driver and `bash infra/setup.sh --gpu`, then set "
            'DASHCAM_ONNX_PROVIDERS=["CUDAExecutionProvider","CPUExecutionProvider"]',
        )
    seen = "; ".join(gpus) or "CUDAExecutionProvider"
    if not uses_cuda:
        return Check(
            "gpu",
            "warn",
            f"{seen} visible but unused: DASHCAM_ONNX_PROVIDERS has no CUDAExecutionProvider",
            'set DASHCAM_ONNX_PROVIDERS=["CUDAExecutionProvider","CPUExecutionProvider"]',
        )
    return Check("gpu", "pass", f"{seen}, used by heavy")


def app_db_check(settings: Settings) -> Check:
    from models.db import DatabaseError, check_current

    url = settings.database_url or ""
    try:
        check_current(url)
    except DatabaseError as exc:
        return Check(
            "app database",
            "fail",
            str(exc),
            "check DASHCAM_DATABASE_URL and that PostgreSQL accepts this host (pg_hba.conf); "
            "then `dashcam db upgrade`",
        )
    except Exception as exc:  # noqa: BLE001 (a driver error must still end as a line, redacted)
        return Check(
            "app database",
            "fail",
            f"cannot use the app database at {redact_url(url)}: {type(exc).__name__}: {exc}",
            "check DASHCAM_DATABASE_URL (postgresql+psycopg://user:password@host/db)",
        )
    return Check("app database", "pass", f"{redact_url(url)} is reachable and migrated")


def code_check(settings: Settings) -> Check:
    """Code delivery (prefect.yaml's pull step): where this device's runs import the flows from."""
    if settings.code_dir is not None:
        d = settings.code_dir
        missing = [p for p in ("flows", "tasks", "dashcam") if not (d / p).is_dir()]
        if missing:
            return Check(
                "code",
                "fail",
                f"DASHCAM_CODE_DIR={d} is not a dashcam checkout (no {', '.join(missing)}/ there)",
                "mount the share holding the project checkout there (its top folder), or unset "
                "DASHCAM_CODE_DIR to run the installed package",
            )
        return Check("code", "pass", f"runs import the project from {d}")
    if settings.code_repo is not None:
        repo = redact_url(settings.code_repo)
        git = shutil.which("git")
        if git is None:
            return Check(
                "code",
                "fail",
                "DASHCAM_CODE_REPO is set but git is not on PATH",
                "install git (apt-get install git) or use DASHCAM_CODE_DIR instead",
            )
        try:
            p = subprocess.run(
                [git, "ls-remote", settings.code_repo, settings.code_ref],
                capture_output=True,
                text=True,
                timeout=30,
                env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},  # never wait for a password
            )
            problem = p.stderr.strip()[-300:] if p.returncode else ""
            if not problem and not p.stdout.strip():
                problem = f"{settings.code_ref!r} is no branch or tag there"
        except subprocess.TimeoutExpired:
            problem = "no answer within 30 s"
        if problem:
            return Check(
                "code",
                "fail",
                f"cannot use DASHCAM_CODE_REPO={repo} at DASHCAM_CODE_REF={settings.code_ref}: "
                + problem.replace(settings.code_repo, repo),
                "check the URL, this device's git credentials (deploy key) and the ref; runs "
                "fall back to the newest commit already cloned",
            )
        return Check("code", "pass", f"runs clone {repo} at {settings.code_ref}")
    return Check("code", "pass", "runs import the installed dashcam package")


def data_dir_check(settings: Settings) -> Check:
    """PREFECT_HOME and the clone cache live in data_dir: the worker writes there."""
    d = settings.data_dir
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / f".dashcam-doctor-{secrets.token_hex(4)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return Check(
            "data dir",
            "fail",
            f"cannot write to DASHCAM_DATA_DIR={d}: {exc.strerror or exc}",
            f"create it and give uid {_uid()} write access, or point DASHCAM_DATA_DIR elsewhere",
        )
    return Check("data dir", "pass", f"{d} is writable (Prefect home, code cache, logs)")


# --- all together ---


def run_checks(settings: Settings, device: str | None) -> list[Check]:
    if device is not None and device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; one of {', '.join(DEVICES)}")
    checks = api_checks(settings, device)
    checks += volume_checks(settings, device)
    if device is None or device in NEEDS_FFMPEG:
        checks += ffmpeg_checks()
    if device in (None, "workhorse"):
        onnx, available = onnx_check(settings)
        checks.append(onnx)
        if device == "workhorse":
            checks.append(gpu_check(settings, available))
    if device == "main-server":
        checks.append(app_db_check(settings))
    elif device is None and not (settings.database_url or "").startswith("sqlite"):
        checks.append(_soften(app_db_check(settings)))
    checks += [data_dir_check(settings), code_check(settings)]
    for c in checks:  # last line of defence: no credential leaves this function
        c.detail, c.fix = scrub(c.detail, settings), scrub(c.fix, settings)
    return checks


def report(settings: Settings, device: str | None, checks: list[Check]) -> dict:
    return {
        "device": device,
        "device_name": settings.device_name,
        "ok": not any(c.status == "fail" for c in checks),
        "checks": [asdict(c) for c in checks],
    }


def format_text(device: str | None, checks: list[Check]) -> str:
    lines = [f"dashcam doctor: {device or 'no --device (device checks are warnings)'}"]
    for c in checks:
        lines.append(f"{c.status.upper():<4}  {c.name}: {c.detail}")
        if c.fix and c.status != "pass":
            lines.append(f"      fix: {c.fix}")
    fails = sum(c.status == "fail" for c in checks)
    warns = sum(c.status == "warn" for c in checks)
    lines.append(f"{fails} failed, {warns} warnings, {len(checks) - fails - warns} passed")
    return "\n".join(lines)
