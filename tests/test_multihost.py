"""Issue 7 on real hosts: every device is its own network namespace on a private switch.

- main-server: PostgreSQL (Prefect's DB and the app DB), the Prefect server with basic auth,
  its worker, the dashboard (loopback only);
- workhorse-a, workhorse-b: one heavy run at a time each, the same pool;
- indoor-nas, shed-nas: their workers;
- laptop: runs `dashcam deploy` against the main server's API, as a user would.

Each device maps the volumes to its own mount point (bind mounts of one storage tree), reaches
the others only over its veth, and gets its flow code through the deployments' pull step.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import SecretStr

from dashcam.settings import Settings
from tasks.ingest import make_video_id
from tasks.synthetic import render_plate_clip
from tests import netns
from tests.conftest import REPO, wait_for
from tests.pgserver import PgServer

pytestmark = pytest.mark.slow

AUTH = "household:Prefect-Secret-91"
PORT = 4200
WORKHORSES = ("workhorse-a", "workhorse-b")


@dataclass
class Cluster:
    net: netns.Network
    root: Path
    pg: PgServer
    settings: dict[str, Settings] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: list = field(default_factory=list)

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    @property
    def faults(self) -> Path:
        return self.root / "faults"

    def spawn(self, host: str, name: str, args: list[str], settings: Settings) -> subprocess.Popen:
        log = open(self.root / "logs" / f"{name}.log", "ab")  # noqa: SIM115 (the child's)
        self.logs.append(log)
        env = settings.child_env()
        env["DASHCAM_ENV_FILE"] = "/nonexistent"  # only what this device's settings say
        p = subprocess.Popen(
            self.net.exec_args(host, args),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.root,
        )
        self.procs[name] = p
        return p

    def run(
        self, host: str, args: list[str], settings: Settings, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        env = settings.child_env()
        env["DASHCAM_ENV_FILE"] = "/nonexistent"
        return subprocess.run(
            self.net.exec_args(host, args),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )

    def stop(self, name: str) -> None:
        from dashcam.ops.stack import _stop

        p = self.procs.pop(name, None)
        if p is not None:
            _stop([p], 10, twice=True)

    def query(self, code: str) -> object:
        """Run Python on the laptop host against the API (this process is on no test network)."""
        p = self.run("laptop", [sys.executable, "-c", code], self.settings["laptop"], timeout=120)
        assert p.returncode == 0, p.stderr[-3000:]
        return json.loads(p.stdout.strip().splitlines()[-1])


DASHCAM = [sys.executable, "-m", "dashcam.cli"]
PREFECT = str(Path(sys.executable).with_name("prefect"))

RUNS = """
import json
from dashcam.settings import Settings
from dashcam.ops.stack import client
from dashcam.ops.stack import all_flow_runs
with client(Settings()) as c:
    names = {f.id: f.name for f in c.read_flows()}
    print(json.dumps([{"flow": names.get(r.flow_id), "video_id": (r.parameters or {}).get("video_id"),
                       "state": r.state_type.value if r.state_type else None, "run_count": r.run_count,
                       "id": str(r.id)} for r in all_flow_runs(c)]))
"""


def _mount(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", str(src), str(dst)], check=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if why := netns.available():
        pytest.skip(why)
    root = tmp_path_factory.mktemp("hosts")
    (root / "logs").mkdir()
    (root / "faults").mkdir()
    for d in ("videos/raw", "videos/heavy_output", "archive"):
        (root / "storage" / d).mkdir(parents=True)
    mounts: list[Path] = []
    with netns.Network() as net:
        addr = {
            h: net.add_host(h)
            for h in ("main-server", *WORKHORSES, "indoor-nas", "shed-nas", "laptop")
        }
        api = f"http://{addr['main-server']}:{PORT}/api"
        pg = PgServer.temporary(host=addr["main-server"], netns=net.ns("main-server"))
        c = Cluster(net, root, pg)
        try:
            pg.start()
            pg.create_db("prefect")
            pg.create_db("dashcam")
            # A copy of the project on the "NAS share" the workers take their code from.
            code = root / "storage" / "code"
            subprocess.run(
                ["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(code)], check=True
            )
            for rel in (
                "prefect.yaml",
                "flows",
                "tasks",
                "dashcam",
                "models",
                "dashboard",
            ):  # the tree as tested
                src, dst = REPO / rel, code / rel
                shutil.rmtree(dst, ignore_errors=True) if dst.is_dir() else dst.unlink(
                    missing_ok=True
                )
                shutil.copytree(src, dst) if src.is_dir() else shutil.copy2(src, dst)
            common = {
                "prefect_api_url": api,
                "prefect_api_auth": AUTH,
                "prefect_port": PORT,
                "worker_query_seconds": 1.0,
                "crash_after_seconds": 40,
                "pending_crash_seconds": 90,
                # Fallbacks only (drop() starts ingest; a crashed or failed stage run starts
                # reconcile): each scheduled run costs a process on CI's two cores.
                "reconcile_interval_s": 60,
                "ingest_interval_s": 120,
                "stable_seconds": 2,
                "max_attempts": 3,
                "sample_every_s": 1.0,
            }
            for host in addr:
                mnt = root / "hosts" / host / "mnt"
                vols = {
                    "raw_root": mnt / "nas" / "raw",
                    "work_root": mnt / "nas" / "heavy_output",
                    "archive_root": mnt / "shed" / "archive",
                    "code_dir": mnt / "nas" / "code",
                }
                for key, src in (
                    ("raw_root", "videos/raw"),
                    ("work_root", "videos/heavy_output"),
                    ("archive_root", "archive"),
                    ("code_dir", "code"),
                ):
                    _mount(root / "storage" / src, vols[key])
                    mounts.append(vols[key])
                extra: dict = {}
                if host == "main-server":
                    extra = {
                        "database_url": pg.url("psycopg", "dashcam"),
                        "prefect_database_url": pg.url("asyncpg", "prefect"),
                        "prefect_host": addr["main-server"],
                    }
                c.settings[host] = Settings(
                    data_dir=root / "hosts" / host / "data",
                    device_name=host,
                    **common,
                    **vols,
                    **extra,
                )
            ms = c.settings["main-server"]
            server = c.spawn("main-server", "server", [*DASHCAM, "server"], ms)

            def server_up() -> bool:
                assert server.poll() is None, (root / "logs" / "server.log").read_text()[-3000:]
                return (
                    c.run(
                        "laptop", ["curl", "-sf", f"{api}/health"], c.settings["laptop"]
                    ).returncode
                    == 0
                )

            wait_for(server_up, 180, "the Prefect server on the main-server host")
            p = c.run("laptop", [*DASHCAM, "deploy"], c.settings["laptop"])
            assert p.returncode == 0, p.stdout + p.stderr
            c.spawn("main-server", "worker-main-server", [*DASHCAM, "worker", "main-server"], ms)
            c.spawn("main-server", "dashboard", [*DASHCAM, "dashboard"], ms)
            for host in (*WORKHORSES, "indoor-nas", "shed-nas"):
                device = "workhorse" if host.startswith("workhorse") else host
                c.spawn(host, f"worker-{host}", [*DASHCAM, "worker", device], c.settings[host])
            yield c
        finally:
            for name in list(c.procs):
                c.stop(name)
            pg.stop()
            for f in c.logs:
                f.close()
            for m in reversed(mounts):
                subprocess.run(["umount", "-l", str(m)], check=False)


def videos(c: Cluster) -> dict[str, dict]:
    from sqlalchemy import text

    from models.db import get_engine

    # The test process reaches PostgreSQL through its unix socket (a file, on no network).
    url = f"postgresql+psycopg://{c.pg.user}:{c.pg.password}@/dashcam?host={c.pg.root}&port={c.pg.port}"
    with get_engine(url).connect() as conn:
        rows = (
            conn.execute(text("SELECT video_id, path, state, error, heavy_device FROM video"))
            .mappings()
            .all()
        )
    return {r["path"]: dict(r) for r in rows}


def terminal(c: Cluster, paths: list[str]) -> dict[str, dict] | None:
    vs = videos(c)
    if all(p in vs and vs[p]["state"] in ("archived", "failed") for p in paths):
        return vs
    return None


def drop(c: Cluster, folder: str, n: int, first: int, hold_heavy: bool = False) -> list[str]:
    """Render n clips into raw/<folder>/; `hold_heavy`: each waits mid-heavy on a host whose
    settings name the fault folder, until its hold file is deleted (tasks.volumes.fault_pause)."""
    out = []
    tmp = c.root / "render"
    tmp.mkdir(exist_ok=True)
    for i in range(first, first + n):
        name = f"2024_0601_08{i:02d}00_{i:05d}F.MP4"
        clip = render_plate_clip(
            tmp / name, text=f"KA{i:02d}BCD", seconds=3.0, width=960, height=540, seed=i
        )
        dest = c.storage / "videos" / "raw" / folder / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if hold_heavy:
            vid = make_video_id(f"{folder}/{name}", clip, clip.stat().st_size)
            (c.faults / f"heavy.{vid}.hold").touch()
        shutil.move(clip, dest)
        out.append(f"{folder}/{name}")
    # What a user may do after copying clips in, rather than wait for the schedule. Again while
    # they are not all known: a run started while a scheduled one is going is dropped
    # (CANCEL_NEW), and that one may have listed raw before the clips arrived.
    def known() -> bool:
        vs = videos(c)
        return all(p in vs for p in out)

    for _ in range(8):
        p = c.run("laptop", [PREFECT, "deployment", "run", "ingest/dashcam"], c.settings["laptop"])
        assert p.returncode == 0, p.stdout + p.stderr
        with contextlib.suppress(AssertionError):
            wait_for(known, 30, f"ingest to take {out}", every=2)
            return out
    raise AssertionError(f"ingest never took {out}")


def test_clips_reach_archived_and_both_workhorses_share_the_work(cluster: Cluster) -> None:
    c = cluster
    paths = drop(c, "trip-1", 4, 1)  # enough for both workhorses to take some
    vs = wait_for(
        lambda: terminal(c, paths),
        600,
        "4 clips to reach archived on the multi-host cluster",
        every=3,
    )
    assert all(vs[p]["state"] == "archived" for p in paths), {
        p: (vs[p]["state"], vs[p]["error"]) for p in paths
    }
    devices = [vs[p]["heavy_device"] for p in paths]
    assert set(devices) == set(WORKHORSES), f"the work was not shared: {devices}"
    runs = c.query(RUNS)
    ids = {vs[p]["video_id"] for p in paths}
    heavy = [r for r in runs if r["flow"] == "heavy" and r["video_id"] in ids]
    assert sorted(r["video_id"] for r in heavy) == sorted(ids)  # one heavy run per video
    assert all(r["state"] == "COMPLETED" and r["run_count"] == 1 for r in heavy), heavy
    # archive copies came through the shed NAS's own mount of the same storage
    for p in paths:
        assert (c.storage / "archive" / vs[p]["video_id"] / "video_lowres.mp4").is_file()


def test_prefect_and_the_app_use_postgresql(cluster: Cluster) -> None:
    import psycopg

    with psycopg.connect(c_dsn(cluster, "prefect")) as conn:
        assert conn.execute("SELECT count(*) FROM flow_run").fetchone()[0] > 0
    assert not (cluster.settings["main-server"].data_dir / "dashcam.db").exists()
    assert not list((cluster.root / "hosts" / "main-server" / "data").rglob("prefect.db"))


def c_dsn(c: Cluster, db: str) -> str:
    return (
        f"host={c.pg.root} port={c.pg.port} dbname={db} user={c.pg.user} password={c.pg.password}"
    )


def test_runs_took_their_code_from_the_share(cluster: Cluster) -> None:
    c = cluster
    logs = c.query(
        "import json\nfrom dashcam.settings import Settings\nfrom dashcam.ops.stack import client\n"
        "from prefect.client.schemas.filters import LogFilter\n"
        "with client(Settings()) as c:\n"
        "    print(json.dumps([l.message for l in c.read_logs(LogFilter(), limit=200) if 'flow code from' in l.message]))"
    )
    assert logs and all("shared directory" in m and "/mnt/nas/code" in m for m in logs), logs[:3]


def test_a_workhorse_cut_off_mid_run_loses_nothing(cluster: Cluster) -> None:
    c = cluster
    # Only workhorse-a may take the next clip, and it holds in the middle of heavy (the crash
    # tests' barrier) so the cable is pulled while the run is surely in progress.
    c.stop("worker-workhorse-b")
    c.stop("worker-workhorse-a")
    held = c.settings["workhorse-a"].model_copy(update={"fault_hold_dir": c.faults})
    c.spawn("workhorse-a", "worker-workhorse-a", [*DASHCAM, "worker", "workhorse"], held)
    [path] = drop(c, "trip-2", 1, 20, hold_heavy=True)
    [hold] = list(c.faults.glob("heavy.*.hold"))
    reached = hold.with_suffix(".reached")
    wait_for(reached.exists, 300, "workhorse-a to reach the middle of heavy on the new clip", every=1)
    vid = videos(c)[path]["video_id"]
    [run] = [r for r in c.query(RUNS) if r["flow"] == "heavy" and r["video_id"] == vid]
    assert run["state"] == "RUNNING", run
    c.net.cut("workhorse-a")
    c.spawn(
        "workhorse-b",
        "worker-workhorse-b",
        [*DASHCAM, "worker", "workhorse"],
        c.settings["workhorse-b"],
    )
    vs = wait_for(
        lambda: terminal(c, [path]),
        420,
        "the cut-off workhorse's clip to be finished by the other",
        every=3,
    )
    assert vs[path]["state"] == "archived", vs[path]
    assert vs[path]["heavy_device"] == "workhorse-b"
    heavy = [r for r in c.query(RUNS) if r["flow"] == "heavy" and r["video_id"] == vid]
    assert [r["id"] for r in heavy] == [run["id"]]  # the same run, rescheduled; never a second one
    assert heavy[0]["state"] == "COMPLETED" and heavy[0]["run_count"] >= 2

    # The cable goes back in while the stale copy on workhorse-a is still at work (held). When it
    # finishes, it asks the server whether its attempt is still the live one, hears no, and
    # publishes nothing: the cleaned-up bundle does not come back, the run stays Completed.
    c.net.restore("workhorse-a")
    assert hold.exists()
    hold.unlink()
    log = c.root / "logs" / "worker-workhorse-a.log"
    wait_for(
        lambda: "no longer the live one" in log.read_text(errors="replace"),
        180,
        "the stale run on workhorse-a to stand down",
    )
    time.sleep(3)  # it exits right after: nothing may appear after the line
    assert not (c.storage / "videos" / "heavy_output" / vid).exists()
    heavy = [r for r in c.query(RUNS) if r["flow"] == "heavy" and r["video_id"] == vid]
    assert [r["state"] for r in heavy] == ["COMPLETED"]


def test_wrong_credential_is_refused_and_said_so(cluster: Cluster) -> None:
    c = cluster
    wrong = c.settings["workhorse-b"].model_copy(
        update={"prefect_api_auth": SecretStr("household:wrong-password")}
    )
    p = c.run("workhorse-b", [*DASHCAM, "worker", "workhorse"], wrong, timeout=120)
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert "refused the credential" in out and "wrong-password" not in out, out[-2000:]
    p = c.run("workhorse-b", [*DASHCAM, "doctor", "--device", "workhorse"], wrong, timeout=120)
    assert p.returncode != 0 and "refused the credential" in p.stdout + p.stderr


def test_dashboard_is_on_loopback_only_and_no_log_holds_a_credential(cluster: Cluster) -> None:
    c = cluster
    ms = c.settings["main-server"]
    url = f"http://127.0.0.1:{ms.dashboard_port}/_stcore/health"
    wait_for(
        lambda: c.run("main-server", ["curl", "-sf", url], ms).returncode == 0, 120, "the dashboard"
    )
    lan = f"http://{c.net.hosts['main-server']}:{ms.dashboard_port}/_stcore/health"
    assert (
        c.run("laptop", ["curl", "-s", "--max-time", "5", lan], c.settings["laptop"]).returncode
        != 0
    )
    p = c.run("main-server", [*DASHCAM, "status"], ms)
    assert p.returncode == 0, p.stderr
    secrets = [AUTH, AUTH.split(":")[1], c.pg.password]
    texts = {"dashcam status": p.stdout + p.stderr}
    texts |= {f.name: f.read_text(errors="replace") for f in (c.root / "logs").glob("*.log")}
    for name, text in texts.items():
        for s in secrets:
            assert s not in text, f"{name} shows a credential"
