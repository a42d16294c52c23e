"""flows/lifecycle.py is the one lifecycle table: prefect.yaml, the flow modules, reconcile and
the in-process chain agree with it."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import yaml

from flows.lifecycle import DEPLOYMENT, NEEDED_IN, STEP, STEPS, TERMINAL, VIDEO_CHAIN, resume_flow
from models.tables import State

ROOT = Path(__file__).resolve().parents[1]


def _deployments() -> list[dict]:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def test_prefect_yaml_deploys_exactly_the_table() -> None:
    deployed = {d["entrypoint"]: d for d in _deployments()}
    assert set(deployed) == {s.entrypoint for s in STEPS}
    for step in STEPS:
        d = deployed[step.entrypoint]
        assert d["name"] == DEPLOYMENT
        assert d["work_pool"]["name"] == step.device, step.flow
        every = [s["interval"] for s in d.get("schedules") or []]
        assert every == ([step.every_s] if step.every_s else []), step.flow


def test_each_entrypoint_is_the_flow_of_that_name_with_those_parameters() -> None:
    for step in STEPS:
        module, func = step.entrypoint.split(":")
        flow = getattr(importlib.import_module(module), func)
        assert flow.name == step.flow
        params = [p for p in inspect.signature(flow.fn).parameters if p != "delete_raw"]
        if step.per_video:
            assert tuple(params) == step.params, step.flow


def _published(module: str) -> set[str]:
    """Flow names a flow module publishes: publish("x", ...) and publish(*handoff("x", ...))."""
    tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("publish", "handoff"):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                out.add(first.value)
    return out


def test_each_flow_publishes_what_the_table_says() -> None:
    for step in STEPS:
        if step.flow == "reconcile":  # republishes whatever resume_flow says
            continue
        assert _published(step.entrypoint.split(":")[0]) == set(step.publishes), step.flow


def test_the_chain_and_the_states() -> None:
    assert VIDEO_CHAIN == ("heavy", "finalize", "archive", "confirm-archived", "cleanup")
    for a, b in zip(VIDEO_CHAIN, VIDEO_CHAIN[1:], strict=False):
        assert STEP[a].publishes == (b,)
    assert STEP["ingest"].publishes == ("heavy",)
    # Every state is set by some flow, and a failed video needs nothing more.
    assert {s for step in STEPS for s in step.sets} | {State.failed} == set(State)
    assert all(State.failed not in needed for needed in NEEDED_IN.values())
    assert [resume_flow(s) for s in (State.ingested, State.processed, State.finalized)] == [
        "heavy", "finalize", "archive"]
    assert all(resume_flow(s) is None for s in TERMINAL)

