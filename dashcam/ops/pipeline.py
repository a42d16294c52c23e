"""The whole chain for given clips in one process, no Prefect server (`dashcam process`).

Calls the same plain functions as the stage flows, in the lifecycle's order, into the same DB
and volumes, so a result from here is the result the distributed pipeline would give.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import select

from dashcam.settings import Settings
from flows.config import archive_config, finalize_config, heavy_config, ingest_config, volumes
from flows.lifecycle import NEEDED_IN, VIDEO_CHAIN
from models.db import session_scope, upgrade
from models.tables import State, Video
from tasks import watchlist
from tasks.archive import run_archive, run_cleanup
from tasks.finalize import (
    apply_bundle,
    confirm_archived,
    load_bundle,
    mark_processed,
    send_watchlist_alerts,
)
from tasks.heavy import run_heavy
from tasks.ingest import record_video, refresh_if_replaced

if TYPE_CHECKING:
    from tasks.sync import SyncResult

log = logging.getLogger(__name__)

# (done, total, note): how far a long piece of work is; the CLI hands its progress bar's update.
OnProgress = Callable[[int, int | None, str], None]


@dataclass(frozen=True)
class Outcome:
    video_id: str
    path: str
    state: str
    error: str | None


def expand(paths: Iterable[Path], settings: Settings) -> list[Path]:
    exts = {e.lower() for e in settings.video_extensions}
    out: list[Path] = []
    for p in paths:
        p = p.expanduser().resolve()
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in exts)
        elif p.exists():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return out


def into_raw(settings: Settings, src: Path) -> str:
    """A clip outside the raw volume is copied to raw/<its folder name>/ (raw is the system of record)."""
    raw = volumes(settings).volume_root("raw")
    if raw in src.parents:
        return volumes(settings).relative("raw", src)
    dst = raw / (src.parent.name or "imported") / src.name
    if not (dst.exists() and dst.stat().st_size == src.stat().st_size):
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.part")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
        log.info("copied %s into raw/%s", src, volumes(settings).relative("raw", dst))
    return volumes(settings).relative("raw", dst)


def process_clip(settings: Settings, rel: str) -> Outcome:
    """One clip through every per-video flow of the lifecycle, in its order, each run only while
    the video's state still needs it (`flows.lifecycle`): what the workers would do, in process."""
    url = settings.database_url
    assert url is not None
    with session_scope(url) as session:
        found = session.exec(select(Video).where(Video.path == rel)).first()
        size = volumes(settings).resolve("raw", rel).stat().st_size
        video = refresh_if_replaced(session, found, size) or record_video(ingest_config(settings), session, rel)
        vid = video.video_id

    def finalize() -> None:
        manifest, det = load_bundle(finalize_config(settings), vid)
        with session_scope(url) as session:
            mark_processed(session, vid)
            state = apply_bundle(session, vid, manifest, det, finalize_config(settings)).state
        if state == State.finalized:  # committed: now its watchlist hits
            # No Prefect run here, so no event: the configured services only.
            send_watchlist_alerts(finalize_config(settings), vid, watchlist.matcher, lambda event, resource, payload: None)

    def confirm() -> None:
        with session_scope(url) as session:
            confirm_archived(session, vid)

    runs: dict[str, Callable[[], object]] = {
        "heavy": lambda: run_heavy(heavy_config(settings), vid, rel),
        "finalize": finalize,
        "archive": lambda: run_archive(archive_config(settings), vid),
        "confirm-archived": confirm,
        "cleanup": lambda: run_cleanup(archive_config(settings), vid, rel),
    }
    assert tuple(runs) == VIDEO_CHAIN, "flows/lifecycle.py and process_clip disagree"
    for flow_name in VIDEO_CHAIN:
        with session_scope(url) as session:
            state = session.get(Video, vid).state  # type: ignore[union-attr]
        if state in NEEDED_IN[flow_name]:
            runs[flow_name]()
    with session_scope(url) as session:
        v = session.get(Video, vid)
        assert v is not None
        return Outcome(v.video_id, v.path, v.state, v.error)


def process_paths(
    settings: Settings, paths: Iterable[Path], on_progress: OnProgress | None = None
) -> list[Outcome]:
    """Each clip through the chain, in order. `on_progress(done, total, note)` is told the
    clips done of all and the one being worked on (the CLI's progress bar); the log lines stay."""
    tell = on_progress or (lambda done, total, note: None)
    upgrade(settings.database_url)  # type: ignore[arg-type]
    for volume in ("raw", "work", "archive"):
        volumes(settings).volume_root(volume).mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
    found = expand(paths, settings)
    rels = []
    for p in found:
        tell(0, len(found), f"into raw: {p.name}")
        rels.append(into_raw(settings, p))
    outcomes = []
    for i, rel in enumerate(rels, 1):
        log.info("[%d/%d] %s", i, len(rels), rel)
        tell(i - 1, len(rels), rel)
        outcomes.append(process_clip(settings, rel))
    tell(len(rels), len(rels), "")
    return outcomes


def sync_once(
    settings: Settings, address: str, raw: Path, on_progress: OnProgress | None = None
) -> SyncResult:
    """One Wi-Fi sync from the camera at ADDRESS into RAW, in this process (`dashcam sync`):
    the sync flow's own config and archived-check, without a Prefect run. `on_progress(bytes
    done, bytes to fetch, file)` follows the downloads."""
    from flows.config import archive_config, sync_config
    from tasks.archive import is_archived
    from tasks.sync import sync as sync_camera

    archive = archive_config(settings)
    return sync_camera(
        sync_config(settings, address),
        raw,
        lambda rel: is_archived(archive, rel),
        on_progress=on_progress,
    )
