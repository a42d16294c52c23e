"""`dashcam status`: videos per stage and failures, from the app DB."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlmodel import select

from models.db import session_scope
from models.tables import Stage, Video

STAGES = [s.value for s in Stage]


def status_report(database_url: str) -> dict[str, Any]:
    with session_scope(database_url) as session:
        videos = session.exec(select(Video).order_by(Video.path)).all()
    counts = Counter(v.stage for v in videos)
    return {
        "videos": [
            {"video_id": v.video_id, "path": v.path, "stage": v.stage, "error": v.error}
            for v in videos
        ],
        "counts": {s: counts.get(s, 0) for s in STAGES}
        | {s: n for s, n in counts.items() if s not in STAGES},
    }


def format_report(report: dict[str, Any]) -> str:
    lines = ["  ".join(f"{s}: {n}" for s, n in report["counts"].items())]
    width = max((len(v["path"]) for v in report["videos"]), default=4)
    for v in report["videos"]:
        line = f"{v['path']:<{width}}  {v['stage']:<10} {v['video_id']}"
        if v["error"]:
            line += f"\n{'':<{width}}  reason: {v['error']}"
        lines.append(line)
    return "\n".join(lines)
