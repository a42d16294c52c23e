"""The all-in-one stack: Prefect server, pools, deployments, automation and one worker per pool.

`dashcam up` uses it; the end-to-end tests use the same class, so what they exercise is what a
user runs. Every process is a real subprocess on loopback, logging to data_dir/logs/.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from dashcam.ops.commands import prefect_bin, server_args, worker_args, worker_env
from dashcam.settings import DEVICES, Settings
from flows._handoff import BUSY_PATIENCE_S, start_run
from flows.config import volumes

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFECT_YAML = REPO_ROOT / "prefect.yaml"
AUTOMATION_NAME = "dashcam: crash runs whose heartbeat stopped"
RECONCILE_AUTOMATION_NAME = "dashcam: reconcile when a stage run crashes or fails"


class StackError(RuntimeError):
    pass


@contextlib.contextmanager
def prefect_api(settings: Settings) -> Iterator[None]:
    """Point this process's Prefect client at the stack's API.

    Prefect reads PREFECT_API_URL once, when it is first imported; a process that talks to more
    than one server in its life (tests, benchmarks) must say which one each time.
    """
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    updates: dict = {PREFECT_API_URL: settings.prefect_api_url}
    if settings.prefect_api_auth is not None:
        updates[PREFECT_API_AUTH_STRING] = settings.prefect_api_auth.get_secret_value()
    with temporary_settings(updates=updates):
        yield


@contextlib.contextmanager
def client(settings: Settings) -> Iterator:
    from prefect.client.orchestration import get_client

    with prefect_api(settings), get_client(sync_client=True) as c:
        yield c


def start_ingest(settings: Settings, patience: float = BUSY_PATIENCE_S) -> None:
    """Start an ingest run now, without waiting for it to run; a busy server (503) is asked
    again for `patience` seconds (flows/_handoff.py `start_run`)."""
    with prefect_api(settings):
        start_run("ingest/dashcam", patience=patience)


def all_flow_runs(client) -> list:  # noqa: ANN001
    """Every flow run on the server (the API pages at 200)."""
    out: list = []
    while batch := client.read_flow_runs(limit=200, offset=len(out)):
        out += batch
    return out


@dataclass
class Stack:
    settings: Settings
    server: subprocess.Popen | None = None
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    dashboard: subprocess.Popen | None = None
    _logs: list = field(default_factory=list)

    # --- processes ---
    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)
        logf = open(self.settings.logs_dir / f"{name}.log", "ab")  # noqa: SIM115 (kept open for the child)
        self._logs.append(logf)
        env = env or self.settings.child_env()
        # Own session: Ctrl-C in the terminal reaches only `dashcam up`, which stops children in order.
        return subprocess.Popen(
            args,
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.settings.data_dir,
            start_new_session=True,
        )

    def start_server(self, timeout: float = 120) -> None:
        self.settings.prefect_home.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        self.server = self._spawn(
            "prefect-server",
            server_args(self.settings),
            env=self.settings.server_env(),
        )
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 120) -> None:
        url = self.settings.prefect_api_url.rstrip("/") + "/health"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server is not None and self.server.poll() is not None:
                raise StackError(
                    f"the Prefect server exited ({self.server.returncode}); see {self.settings.logs_dir}/prefect-server.log"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise StackError(f"the Prefect server did not answer at {url} within {timeout:.0f} s")

    def start_worker(self, device: str) -> subprocess.Popen:
        # The same command line `dashcam worker DEVICE` runs on a device of its own.
        proc = self._spawn(f"worker-{device}", worker_args(self.settings, device), worker_env(self.settings))
        self.workers[device] = proc
        return proc

    def start_dashboard(self) -> None:
        from dashboard.launch import streamlit_command

        self.dashboard = self._spawn("dashboard", streamlit_command(self.settings))

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.settings.dashboard_address}:{self.settings.dashboard_port}"

    def start_workers(self) -> None:
        for device in DEVICES:
            self.start_worker(device)

    # --- configuration on the server ---
    def create_pools(self) -> None:
        from prefect.client.schemas.actions import WorkPoolCreate
        from prefect.exceptions import ObjectAlreadyExists

        with client(self.settings) as c:
            for pool in self.settings.pools.values():
                with contextlib.suppress(ObjectAlreadyExists):
                    c.create_work_pool(WorkPoolCreate(name=pool, type="process"))

    def deploy(self) -> None:
        env = self.settings.child_env()
        proc = subprocess.run(
            [prefect_bin(), "--no-prompt", "deploy", "--all", "--prefect-file", str(PREFECT_YAML)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)
        (self.settings.logs_dir / "deploy.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise StackError(
                f"prefect deploy failed; see {self.settings.logs_dir / 'deploy.log'}:\n{proc.stderr[-2000:]}"
            )
        self.apply_schedules()

    def apply_schedules(self) -> None:
        """prefect.yaml holds default intervals; the settings win."""
        from prefect.client.schemas.schedules import IntervalSchedule

        wanted = {
            "ingest": self.settings.ingest_interval_s,
            "reconcile": self.settings.reconcile_interval_s,
            "sync": self.settings.sync_interval_s,
        }
        # No camera configured: the sync schedule stays off instead of a no-op run every minute.
        active = {"sync": self.settings.camera_address is not None}
        with client(self.settings) as c:
            for flow_name, seconds in wanted.items():
                dep = c.read_deployment_by_name(f"{flow_name}/dashcam")
                for sched in dep.schedules:
                    c.update_deployment_schedule(
                        dep.id,
                        sched.id,
                        active=active.get(flow_name, True),
                        schedule=IntervalSchedule(interval=timedelta(seconds=seconds)),
                    )

    def install_automation(self) -> None:
        """The two automations of crash recovery (docs/decisions.md, Crash detection): runs whose
        whole device died are marked Crashed when their heartbeat stops, and a stage run that
        ends Crashed or Failed starts `reconcile` at once instead of waiting for its schedule."""
        from prefect.automations import Automation
        from prefect.exceptions import ObjectNotFound

        from flows.lifecycle import DEPLOYMENT

        wanted = [self._heartbeat_automation()]
        # reconcile's deployment is absent on `dashcam server` before the first deploy; deploy
        # installs this automation then.
        with client(self.settings) as c, contextlib.suppress(ObjectNotFound):
            reconcile_id = c.read_deployment_by_name(f"reconcile/{DEPLOYMENT}").id
            wanted.append(self._reconcile_automation(reconcile_id))
        with prefect_api(self.settings):
            for automation in wanted:  # replaced by name, so an upgrade's new trigger takes effect
                try:
                    existing = Automation.read(name=automation.name)
                except ValueError:
                    existing = None
                if existing is not None:
                    existing.delete()
                automation.create()

    def _heartbeat_automation(self):  # an Automation; Prefect is imported lazily here
        from prefect.automations import Automation
        from prefect.client.schemas.objects import StateType
        from prefect.events.actions import ChangeFlowRunState
        from prefect.events.schemas.automations import EventTrigger, Posture
        from prefect.events.schemas.events import ResourceSpecification

        return Automation(
            name=AUTOMATION_NAME,
            description="A Running flow run that stops sending heartbeats is marked Crashed; reconcile reschedules it.",
            trigger=EventTrigger(
                # Armed from Running too, not only from a heartbeat: a run whose device died
                # between going Running and its first heartbeat stayed Running for ever (and a
                # killed ingest run held its concurrency slot, so ingest stopped for good).
                after={"prefect.flow-run.Running", "prefect.flow-run.heartbeat"},
                expect={
                    "prefect.flow-run.heartbeat",
                    "prefect.flow-run.Completed",
                    "prefect.flow-run.Failed",
                    "prefect.flow-run.Cancelled",
                    "prefect.flow-run.Crashed",
                },
                match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive,
                threshold=1,
                within=timedelta(seconds=self.settings.crash_after_seconds),
            ),
            actions=[
                ChangeFlowRunState(
                    state=StateType.CRASHED,
                    message=f"no heartbeat for {self.settings.crash_after_seconds} s: the device running it is gone",
                )
            ],
        )

    @staticmethod
    def _reconcile_automation(reconcile_id):  # a deployment UUID -> an Automation
        from prefect.automations import Automation
        from prefect.events.actions import RunDeployment
        from prefect.events.schemas.automations import EventTrigger, Posture
        from prefect.events.schemas.events import ResourceSpecification

        from flows.lifecycle import VIDEO_FLOWS

        return Automation(
            name=RECONCILE_AUTOMATION_NAME,
            description="A per-video stage run that ends Crashed or Failed is rescheduled (or given up) by reconcile right away.",
            trigger=EventTrigger(
                expect={"prefect.flow-run.Crashed", "prefect.flow-run.Failed"},
                match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
                # The stage flows only: a failing reconcile must not start itself in a loop.
                match_related=ResourceSpecification(
                    {"prefect.resource.role": "flow", "prefect.resource.name": sorted(VIDEO_FLOWS)}
                ),
                posture=Posture.Reactive,
                threshold=1,
                within=timedelta(0),
            ),
            actions=[RunDeployment(source="selected", deployment_id=reconcile_id, parameters={})],
        )

    def check_pools_match_yaml(self) -> None:
        import yaml

        spec = yaml.safe_load(PREFECT_YAML.read_text())
        pools = {d["work_pool"]["name"] for d in spec["deployments"]}
        missing = pools - set(self.settings.pools.values())
        if missing:
            raise StackError(
                f"prefect.yaml uses pools {sorted(missing)} that the DASHCAM_POOL_* settings do not name"
            )

    def up(self) -> None:
        from dashboard.auth import startup_problem
        from models.db import upgrade

        if problem := startup_problem(self.settings):  # before anything starts, not at the end
            raise StackError(problem)
        for volume in ("raw", "work", "archive"):
            volumes(self.settings).volume_root(volume).mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
        self.check_pools_match_yaml()
        upgrade(self.settings.database_url)  # type: ignore[arg-type]
        os.environ.update(
            {
                k: v
                for k, v in self.settings.child_env().items()
                if k.startswith(("PREFECT_", "DO_NOT"))
            }
        )
        log.info("starting the Prefect server on %s", self.settings.prefect_api_url)
        self.start_server()
        self.create_pools()
        log.info("deploying the stages (prefect deploy --all)")
        self.deploy()
        self.install_automation()
        self.start_workers()
        log.info(
            "workers started for %s; logs in %s", ", ".join(self.workers), self.settings.logs_dir
        )
        self.start_dashboard()
        log.info("dashboard on %s", self.dashboard_url)

    # --- stopping ---
    def stop_worker(self, device: str, timeout: float = 10) -> None:
        proc = self.workers.pop(device, None)
        if proc is not None:
            _stop([proc], timeout, twice=True)

    def stop(self) -> None:
        """Workers first (all at once, bounded), then the server; nothing is left running."""
        _stop(
            list(self.workers.values()) + ([self.dashboard] if self.dashboard else []),
            10,
            twice=True,
        )
        self.workers.clear()
        self.dashboard = None
        if self.server is not None:
            _stop([self.server], 15)
            self.server = None
        for f in self._logs:
            f.close()
        self._logs.clear()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # each child leads its own session, so its group id is its pid


def _stop(procs: list[subprocess.Popen], timeout: float, twice: bool = False) -> None:
    """SIGTERM each process group (a Prefect worker needs two); SIGKILL what is left after `timeout`."""
    live = [p for p in procs if p.poll() is None]
    for _ in range(2 if twice else 1):
        for p in live:
            _signal_group(p, signal.SIGTERM)
        time.sleep(0.5)
    deadline = time.monotonic() + timeout
    for p in live:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(max(0.1, deadline - time.monotonic()))
    for p in live:
        _signal_group(p, signal.SIGKILL)  # also reaps flow-run children left in the group
        p.wait()
