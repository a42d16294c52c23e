"""A markdown artifact per heavy and finalize run: what the stage did, on the run's Artifacts tab.

Built from what the stage already produced (heavy's bundle on `work`, finalize's result); the
rendering is plain functions, so tests read the markdown without a Prefect server. A failure
to create an artifact is logged and never fails the stage.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tasks import bundle
from tasks.finalize import FinalizeResult

MAX_READ_ROWS = 60  # OCR reads listed in full; a long clip's rest is counted


def key_for(stage: str, video_id: str) -> str:
    """Artifact keys are lowercase letters, digits and dashes: one key per stage and video, so
    the Artifacts page shows a video's runs as versions of one artifact."""
    return f"{stage}-" + re.sub(r"[^a-z0-9-]+", "-", video_id.lower()).strip("-")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value else "0"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def read_heavy_bundle(work_dir: Path) -> tuple[dict, dict | None]:
    """Heavy's published bundle: its manifest, and its detections when the run succeeded."""
    manifest = bundle.read_manifest(work_dir)
    det_path = work_dir / bundle.DETECTIONS
    det = (
        json.loads(det_path.read_text())
        if manifest.get("status") == "ok" and det_path.is_file()
        else None
    )
    return manifest, det


def heavy_markdown(video_id: str, raw_path: str, manifest: dict, det: dict | None) -> str:
    status = manifest.get("status")
    out = [
        f"# heavy: {video_id}",
        "",
        f"Clip `raw/{raw_path}`: **{status}** in {_cell(manifest.get('heavy_seconds'))} s",
    ]
    if det is None:
        out += ["", f"Failed: {manifest.get('error') or 'no reason recorded'}"]
        return "\n".join(out) + "\n"
    plates, sightings = det.get("plates", []), det.get("sightings", [])
    timings = dict(det.get("timings", {}))
    gps = det.get("gps") or {}
    out[-1] += (
        f", {len(plates)} plates from {len(sightings)} sightings, on {det.get('device') or 'unknown device'}"
    )
    out += [
        "",
        f"GPS: {gps.get('source') or 'none'}" + (f" ({gps['note']})" if gps.get("note") else ""),
    ]

    out += ["", "## Plates", ""]
    if plates:
        rows = []
        for p in sorted(plates, key=lambda p: p.get("first_seen_s", 0)):
            others = ", ".join(
                f"{t} {share:.2f}" for t, share in (p.get("alternates") or {}).items()
            )
            rows.append(
                [
                    f"`{p['text']}`",
                    p.get("confidence"),
                    p.get("sighting_count"),
                    p.get("first_seen_s"),
                    p.get("last_seen_s"),
                    p.get("region"),
                    p.get("vehicle"),
                    others,
                ]
            )
        out.append(
            _table(
                [
                    "plate",
                    "confidence",
                    "sightings",
                    "first seen s",
                    "last seen s",
                    "region",
                    "vehicle",
                    "other reads",
                ],
                rows,
            )
        )
    else:
        out.append("No plate found.")

    reads = [s for s in sightings if s.get("text")]
    out += [
        "",
        "## OCR reads",
        "",
        f"{timings.get('ocr_reads', len(reads))} crops read on {timings.get('tracks', 0)} tracks "
        f"({timings.get('tracks_unconfirmed', 0)} unsure tracks read as no plate); "
        f"{len(reads)} sightings carry a read.",
    ]
    if reads:
        rows = [
            [
                s.get("frame_s"),
                f"`{s['text']}`",
                s.get("confidence"),
                s.get("det_confidence"),
                s.get("plate_id"),
            ]
            for s in reads[:MAX_READ_ROWS]
        ]
        out += ["", _table(["frame s", "read", "confidence", "detector", "plate"], rows)]
        if len(reads) > MAX_READ_ROWS:
            out += [
                "",
                f"... and {len(reads) - MAX_READ_ROWS} more reads (detections.json in the bundle).",
            ]

    skipped = timings.pop("frames_skipped", {}) or {}
    sampled = det.get("frames_sampled", timings.get("frames"))
    out += [
        "",
        "## Frames",
        "",
        _table(
            ["sampled", "detected", "skipped", "skipped why", "scene cuts"],
            [
                [
                    sampled,
                    timings.get("frames_detected"),
                    sum(skipped.values()),
                    ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())) or "none",
                    timings.get("scene_cuts"),
                ]
            ],
        ),
    ]

    seconds = [[k.removesuffix("_s"), v] for k, v in timings.items() if k.endswith("_s")]
    seconds.append(["heavy (all)", manifest.get("heavy_seconds")])
    out += ["", "## Timings (s)", "", _table(["step", "seconds"], seconds)]
    return "\n".join(out) + "\n"


def finalize_markdown(result: FinalizeResult) -> str:
    out = [f"# finalize: {result.video_id}", "", f"State: **{result.state}**"]
    if result.error:
        out += ["", f"Failed: {result.error}"]
    if result.rows:
        out += [
            "",
            "## Rows written",
            "",
            _table(["table", "rows"], [[k, v] for k, v in result.rows.items()]),
        ]
    if result.plates:
        out += ["", "Plates stored: " + ", ".join(f"`{t}`" for t in result.plates)]
    t = result.trip
    if t is not None:
        km = None if t.distance_m is None else t.distance_m / 1000
        kmh = [None if v is None else 3.6 * v for v in (t.avg_speed_mps, t.max_speed_mps)]
        events = ", ".join(f"{kind} {n}" for kind, n in t.events.items()) or "none"
        out += [
            "",
            f"## Trip {t.trip_id}",
            "",
            _table(
                ["videos", "distance km", "duration s", "avg km/h", "max km/h", "harsh events"],
                [[t.videos, km, t.duration_s, kmh[0], kmh[1], events]],
            ),
        ]
    return "\n".join(out) + "\n"


def finalize_description(result: FinalizeResult) -> str:
    if result.error:
        return f"finalize {result.video_id}: {result.state}: {result.error}"
    rows = ", ".join(f"{n} {table} rows" for table, n in result.rows.items())
    plates = ", ".join(result.plates) or "no plates"
    return f"finalize {result.video_id}: {result.state}, {plates}; {rows}"


def publish(stage: str, video_id: str, markdown: str, description: str) -> None:
    """The run's artifact (inside a flow run; Prefect links it to the run)."""
    from prefect import get_run_logger
    from prefect.artifacts import create_markdown_artifact

    try:
        create_markdown_artifact(
            markdown=markdown, key=key_for(stage, video_id), description=description
        )
    except Exception as exc:  # noqa: BLE001 (a summary is no reason to fail or redo the stage)
        get_run_logger().warning(
            "%s %s: artifact not created: %s: %s", stage, video_id, type(exc).__name__, exc
        )
