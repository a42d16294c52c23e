"""Code delivery through the deployments' pull step (`dashcam.ops.delivery.pull_code`), without a server.

Each case runs the step in a fresh interpreter, as a flow run's engine process would, and checks
which copy of the code that process then imports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
from dashcam.ops.delivery import pull_code
out = pull_code()
import flows.heavy, dashcam.settings
print(json.dumps({"out": out, "flows": flows.heavy.__file__, "settings": dashcam.settings.__file__}))
"""


def _run(env_extra: dict[str, str], tmp: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHCAM_CODE_")}
    env |= {"DASHCAM_DATA_DIR": str(tmp / "data"), **env_extra}
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, cwd=tmp
    )


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    """The user's repository: a clone of this one with one more commit on `main`."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    up = tmp_path / "upstream"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(up)], check=True)
    _git("checkout", "--quiet", "-B", "main", cwd=up)
    (up / "flows" / "DELIVERED").write_text("v2\n")
    _git("add", "flows/DELIVERED", cwd=up)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "v2", cwd=up)
    return up


def test_no_setting_uses_the_installed_package(tmp_path: Path) -> None:
    p = _run({}, tmp_path)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["out"]["code"].startswith("installed package")
    assert Path(got["flows"]).is_relative_to(REPO)


def test_git_repo_is_cloned_once_per_commit_and_imported_from(
    tmp_path: Path, upstream: Path
) -> None:
    env = {"DASHCAM_CODE_REPO": str(upstream), "DASHCAM_CODE_REF": "main"}
    head = _git("rev-parse", "HEAD", cwd=upstream)
    p = _run(env, tmp_path)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    checkout = tmp_path / "data" / "code" / head
    assert got["out"]["code_dir"] == str(checkout)
    # every one of our modules comes from the checkout, none from the installed package
    assert Path(got["flows"]).is_relative_to(checkout) and Path(got["settings"]).is_relative_to(
        checkout
    )
    assert (checkout / "flows" / "DELIVERED").read_text() == "v2\n"

    # a new push reaches the next run; the old commit stays cached beside it
    (upstream / "flows" / "DELIVERED").write_text("v3\n")
    _git(
        "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-am", "v3", cwd=upstream
    )
    p = _run(env, tmp_path)
    assert p.returncode == 0, p.stderr
    new = tmp_path / "data" / "code" / _git("rev-parse", "HEAD", cwd=upstream)
    assert json.loads(p.stdout)["out"]["code_dir"] == str(new)
    assert (new / "flows" / "DELIVERED").read_text() == "v3\n" and checkout.is_dir()

    # the remote is gone (NAS offline): the newest clone still runs, with a warning
    shutil.rmtree(upstream)
    p = _run(env, tmp_path)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["out"]["code_dir"] == str(new)
    assert "running the newest code already here" in p.stderr


def test_unknown_ref_and_wrong_dir_say_what_to_fix(tmp_path: Path, upstream: Path) -> None:
    p = _run({"DASHCAM_CODE_REPO": str(upstream), "DASHCAM_CODE_REF": "no-such-branch"}, tmp_path)
    assert p.returncode != 0 and "DASHCAM_CODE_REF='no-such-branch' is no branch or tag" in p.stderr
    p = _run({"DASHCAM_CODE_DIR": str(tmp_path)}, tmp_path)
    assert p.returncode != 0 and "is not a dashcam checkout" in p.stderr


def test_shared_directory_is_imported_from(tmp_path: Path, upstream: Path) -> None:
    p = _run({"DASHCAM_CODE_DIR": str(upstream)}, tmp_path)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert (
        Path(got["flows"]).is_relative_to(upstream)
        and got["out"]["code"] == f"shared directory {upstream}"
    )
