"""`dashcam status`: videos per state and failures, from the app DB; and waiting on them."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlmodel import select

from dashcam.settings import Settings
from models.db import session_scope
from models.tables import State, Video

STATES = [s.value for s in State]


def status_report(database_url: str) -> dict[str, Any]:
    with session_scope(database_url) as session:
        videos = session.exec(select(Video).order_by(Video.path)).all()
    counts = Counter(v.state for v in videos)
    return {
        "videos": [
            {"video_id": v.video_id, "path": v.path, "state": v.state, "stage": v.state, "error": v.error}
            for v in videos
        ],
        "counts": {s: counts.get(s, 0) for s in STATES}
        | {s: n for s, n in counts.items() if s not in STATES},
    }


def format_report(report: dict[str, Any]) -> str:
    lines = ["  ".join(f"{s}: {n}" for s, n in report["counts"].items())]
    width = max((len(v["path"]) for v in report["videos"]), default=4)
    for v in report["videos"]:
        line = f"{v['path']:<{width}}  {v['state']:<10} {v['video_id']}"
        if v["error"]:
            line += f"\n{'':<{width}}  reason: {v['error']}"
        lines.append(line)
    return "\n".join(lines)


def plates_report(database_url: str, dashboard_url: str) -> list[dict[str, Any]]:
    """Per video (by path): its plates (text, confidence, located or not) with the dashboard
    links of the video and of each plate."""
    from urllib.parse import urlencode

    from models.tables import Plate, Sighting

    base = dashboard_url.rstrip("/")
    out = []
    with session_scope(database_url) as session:
        for v in session.exec(select(Video).order_by(Video.path)).all():
            plates = session.exec(select(Plate).where(Plate.video_id == v.video_id)
                                  .order_by(Plate.first_seen_s)).all()
            located = set(session.exec(
                select(Sighting.plate_id).where(Sighting.video_id == v.video_id,
                                                Sighting.lat.is_not(None)).distinct()))  # type: ignore[union-attr]
            out.append({
                "video_id": v.video_id, "path": v.path, "state": v.state, "stage": v.state, "has_gps": v.has_gps,
                "link": f"{base}/video?{urlencode({'video_id': v.video_id})}",
                "plates": [{"text": p.text, "confidence": round(p.confidence, 3),
                            "located": p.plate_id in located,
                            "link": f"{base}/plate?{urlencode({'text': p.text})}"} for p in plates],
            })
    return out


def format_plates(rows: list[dict[str, Any]]) -> str:
    lines = ["Plates read, per video:"]
    for r in rows:
        gps = "GPS" if r["has_gps"] else "no GPS"
        lines.append(f"  {r['path']} ({r['state']}, {gps}): {r['link']}")
        if not r["plates"]:
            lines.append("      no plates")
        for p in r["plates"]:
            where = "on the map" if p["located"] else "not located"
            lines.append(f"      {p['text']:<10} {p['confidence']:.2f}  {where:<11}  {p['link']}")
    return "\n".join(lines)


class WaitTimedOut(SystemExit):
    """The clips were not all archived or failed in time.

    A SystemExit carrying its message, as `typer.Exit(message)` did when this lived in the CLI:
    `dashcam demo` and the benches end with the message on stderr and exit status 1.
    """


def wait_for_terminal(
    settings: Settings,
    n_clips: int,
    timeout: float,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> dict:
    """Trigger ingest until every clip is in the DB, then wait until all are archived or failed.
    `on_progress(done, n_clips, counts)` is told each poll (a progress bar); the log lines stay."""
    from dashcam.ops.stack import start_ingest

    deadline = time.monotonic() + timeout
    next_ingest = 0.0
    last = ""
    while time.monotonic() < deadline:
        report = status_report(settings.database_url)
        known = len(report["videos"])
        if known < n_clips and time.monotonic() >= next_ingest:
            start_ingest(settings)
            next_ingest = time.monotonic() + max(2.0, settings.stable_seconds)
        line = "  ".join(f"{s}: {n}" for s, n in report["counts"].items() if n)
        if line != last:
            logging.info("progress: %s", line or "waiting for ingest")
            last = line
        done = sum(report["counts"].get(s, 0) for s in ("archived", "failed"))
        if on_progress is not None:
            on_progress(done, n_clips, line or "waiting for ingest")
        if known >= n_clips and done == known:
            return report
        time.sleep(2)
    raise WaitTimedOut(f"timed out after {timeout:.0f} s; see `dashcam status` and the Prefect UI")
