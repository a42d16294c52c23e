"""Code delivery: the pull step every deployment runs before it imports its flow (prefect.yaml).

`prefect deploy` from a laptop registers deployments; it ships no code. Each flow run on any
device then finds the project code in one of three places, by that device's settings:

- `DASHCAM_CODE_DIR`: a shared directory holding a checkout (the NAS share where the laptop
  pushes or copies the repo). Runs import from it as it is at run start.
- `DASHCAM_CODE_REPO` (+ `DASHCAM_CODE_REF`, default `main`): a git URL. The ref is resolved
  at run start; each commit is cloned once into `<data_dir>/code/<commit>/` and reused, so a
  push reaches every device on its next run and an unreachable remote falls back to the newest
  commit already cloned.
- neither: the `dashcam` package installed on the device (the all-in-one default).

The device still needs Python, the package (it brings the dependencies and this step) and its
settings. The chosen code is put first on `sys.path` and our own modules already imported (this
step's package) are dropped, so the whole run uses one version.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dashcam.settings import Settings
from models.db import redact_url  # imports no table (see models/__init__.py)

log = logging.getLogger(__name__)

# Our top-level packages (pyproject's packages.find): a run must not mix two versions of them.
PACKAGES = ("dashcam", "flows", "tasks", "models", "dashboard")
SHA = re.compile(r"^[0-9a-f]{40}$")
READY = ".dashcam-code-ready"


class CodeDeliveryError(RuntimeError):
    pass


def pull_code() -> dict[str, str]:
    """Prefect pull step (`dashcam.ops.delivery.pull_code`): choose the code this run imports."""
    settings = Settings()
    if settings.code_dir is not None:
        root = settings.code_dir.expanduser().resolve()
        _check_tree(root, f"DASHCAM_CODE_DIR={root}")
        how = f"shared directory {root}"
    elif settings.code_repo:
        root, commit = clone_cached(
            settings.code_repo, settings.code_ref, settings.data_dir / "code"
        )
        how = f"{redact_url(settings.code_repo)} at {settings.code_ref} ({commit[:12]})"
    else:
        import dashcam

        return {"code": f"installed package {Path(dashcam.__file__).parent.parent}"}
    use_code(root)
    _logger().info("flow code from %s", how)
    return {"code": how, "code_dir": str(root)}


def use_code(root: Path) -> None:
    """Import our packages from `root` from now on (in this process)."""
    sys.path.insert(0, str(root))
    for name in [m for m in sys.modules if m.split(".", 1)[0] in PACKAGES]:
        del sys.modules[name]


def clone_cached(repo: str, ref: str, cache: Path) -> tuple[Path, str]:
    """The checkout of `ref` of `repo` under `cache/<commit>/`, cloning it once per commit."""
    cache.mkdir(parents=True, exist_ok=True)
    try:
        commit = ref if SHA.match(ref) else _resolve(repo, ref)
    except CodeDeliveryError as exc:
        newest = _newest_checkout(cache)
        if newest is None:
            raise
        _logger().warning("%s; running the newest code already here (%s)", exc, newest.name[:12])
        return newest, newest.name
    dest = cache / commit
    if (dest / READY).exists():
        return dest, commit
    tmp = Path(tempfile.mkdtemp(prefix=f".{commit[:12]}.", dir=cache))
    try:
        _git(["clone", "--quiet", "--no-checkout", repo, str(tmp)], repo)
        _git(["-C", str(tmp), "checkout", "--quiet", "--detach", commit], repo)
        _check_tree(tmp, f"{redact_url(repo)} at {commit}")
        (tmp / READY).write_text(commit + "\n")
        try:
            os.rename(tmp, dest)
        except OSError:  # another run on this device cloned the same commit first
            if not (dest / READY).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest, commit


def _resolve(repo: str, ref: str) -> str:
    out = _git(
        ["ls-remote", repo, f"refs/heads/{ref}", f"refs/tags/{ref}", f"refs/tags/{ref}^{{}}"], repo
    )
    lines = [line.split() for line in out.splitlines() if line.strip()]
    if not lines:
        raise CodeDeliveryError(
            f"DASHCAM_CODE_REF={ref!r} is no branch or tag of {redact_url(repo)}: set an existing one"
        )
    peeled = [sha for sha, name in lines if name.endswith("^{}")]
    return (peeled or [lines[0][0]])[0]


def _git(args: list[str], repo: str) -> str:
    if shutil.which("git") is None:
        raise CodeDeliveryError("DASHCAM_CODE_REPO is set but git is not installed on this device")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # never hang on a password prompt
    p = subprocess.run(["git", *args], capture_output=True, text=True, timeout=300, env=env)
    if p.returncode != 0:
        raise CodeDeliveryError(
            f"git {args[0]} of {redact_url(repo)} failed: {p.stderr.strip()[-500:]}".replace(
                repo, redact_url(repo)
            )
        )
    return p.stdout


def _check_tree(root: Path, what: str) -> None:
    missing = [p for p in ("flows", "tasks", "dashcam") if not (root / p).is_dir()]
    if missing:
        raise CodeDeliveryError(
            f"{what} is not a dashcam checkout (no {', '.join(missing)}/ there): point it at the repository's top folder"
        )


def _newest_checkout(cache: Path) -> Path | None:
    done = [p for p in cache.iterdir() if (p / READY).exists()]
    return max(done, key=lambda p: (p / READY).stat().st_mtime) if done else None


def _logger() -> logging.Logger | logging.LoggerAdapter:
    """The flow run's log (shown in the Prefect UI): pull steps run before the run context exists,
    so the run id comes from the engine's environment."""
    from prefect.logging import get_logger
    from prefect.runtime import flow_run

    if flow_run.id:
        extra = {
            "flow_run_id": flow_run.id,
            "flow_run_name": flow_run.name,
            "flow_name": flow_run.flow_name,
        }
        return logging.LoggerAdapter(get_logger("prefect.flow_runs"), extra)
    return log
