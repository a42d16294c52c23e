"""The layering contract (pyproject.toml's [tool.importlinter], README's Layout), by `lint-imports`.

Imports only point down (dashcam.cli > dashcam.ops > flows | dashboard > tasks > models), the
settings are a leaf, the wheel never imports benches/, harness/ or tests/, and no two sibling
modules of our packages import each other in a cycle.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Every contract of pyproject's [tool.importlinter]; tasks-without-dashcam also has its own test
# below, so a failure names it.
CONTRACTS = [
    "layers",
    "wheel-without-checkout-folders",
    "settings-is-a-leaf",
    "models-import-nothing-of-ours",
    "tasks-without-dashcam",
    "no-cycles",
]


def _lint(*contracts: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
        "lint-imports"
    )
    if exe is None:
        pytest.fail("lint-imports is missing: install the dev extra (`pip install -e .[dev]`)")
    # This checkout's packages, not whatever an editable install points at.
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    args = [exe, "--no-cache", "--no-logo", *(a for c in contracts for a in ("--contract", c))]
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_imports_point_down_and_nothing_is_cyclic() -> None:
    p = _lint(*CONTRACTS)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in p.stdout, p.stdout


def test_tasks_never_import_dashcam() -> None:
    p = _lint("tasks-without-dashcam")
    assert p.returncode == 0, p.stdout + p.stderr
