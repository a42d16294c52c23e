"""Watchlist alerts (main server, after finalize): one notification per plate text per video.

The household's services are reached through apprise (a dependency of Prefect already): ntfy,
Telegram, email, Home Assistant, a JSON webhook... all from `DASHCAM_ALERT_URLS`. Each alert is
also a Prefect event, `dashcam.watchlist.hit`, for users' own automations.

Exactly once, as far as a notifier on the other end of a network allows:
1. `queue_alerts` inserts one `alert` row per (video_id, text) that matches the watchlist, in its
   own transaction after finalize committed the plates. The pair is unique, so a finalize rerun
   (a crash, a retry, `dashcam process` again) finds the row and queues nothing new.
2. `send_pending` sends each row still `pending` and marks it `sent` right after. Only a power
   cut between the service's answer and that commit (milliseconds) sends it twice; a lost alert
   is worse than a repeated one. A failing service leaves the row `pending` with its error, to be
   tried by the next run, and after `ALERT_ATTEMPTS` it is `failed`: finalize itself never fails
   because a phone is offline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from sqlmodel import Session, select

from models.db import session_scope
from models.tables import Alert, Plate, Video, utcnow

log = logging.getLogger(__name__)

ALERT_ATTEMPTS = 3
EVENT = "dashcam.watchlist.hit"

# (text seen) -> (watched text, label, closeness: 0 exact, 1 OCR-equivalent, 2 one off) or None.
# The flow passes tasks.watchlist.matcher, the pages' own rule, so an alert fires exactly where a page marks a hit.
Matcher = Callable[[str], "tuple[str, str, int] | None"]
Emit = Callable[[str, dict[str, Any], dict[str, Any]], None]  # (event, resource, payload)


@dataclass(frozen=True)
class AlertConfig:
    urls: Sequence[str] = ()
    dashboard_url: str | None = None  # how the household reaches the dashboard, for links


@dataclass(frozen=True)
class SendResult:
    sent: int
    pending: int
    failed: int


def queue_alerts(session: Session, video_id: str, matcher: Matcher) -> list[Alert]:
    """Insert the video's new watchlist hits as `pending` (none twice) and commit; the new rows."""
    seen = {a.text for a in session.exec(select(Alert).where(Alert.video_id == video_id))}
    plates = session.exec(
        select(Plate).where(Plate.video_id == video_id).order_by(Plate.confidence.desc())  # type: ignore[attr-defined]
    ).all()
    new: list[Alert] = []
    for p in plates:
        if p.text in seen or (hit := matcher(p.text)) is None:
            continue
        watched, label, closeness = hit
        seen.add(p.text)
        new.append(
            Alert(video_id=video_id, text=p.text, plate_id=p.plate_id, watch_text=watched,
                  label=label, closeness=closeness)
        )  # fmt: skip
    session.add_all(new)
    session.commit()
    return new


def map_link(lat: float | None, lon: float | None) -> str | None:
    if lat is None or lon is None:
        return None
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}"


def message(alert: Alert, plate: Plate | None, video: Video | None, cfg: AlertConfig) -> tuple[str, str, dict[str, Any]]:
    """Title, body and the event payload of one alert."""
    kind = {0: "", 1: " (OCR-equivalent)", 2: " (one character off)"}.get(alert.closeness, " (near)")
    who = alert.label or alert.watch_text
    title = f"Watchlist: {alert.text} seen ({who})"
    when_cam = plate.first_seen_at.isoformat(sep=" ") if plate and plate.first_seen_at else None
    when_utc = plate.first_seen_utc.isoformat() if plate and plate.first_seen_utc else None
    where = map_link(plate.lat, plate.lon) if plate else None
    page = None
    if cfg.dashboard_url:
        base = cfg.dashboard_url.rstrip("/")
        page = f"{base}/plate?{urlencode({'text': alert.text})}"
    lines = [
        f"{alert.text} matches watchlist entry {alert.watch_text}{kind}" + (f": {alert.label}" if alert.label else ""),
        f"Seen: {when_cam or 'time unknown'} (camera clock)" + (f", {when_utc} UTC" if when_utc else ""),
        f"Video: {alert.video_id}" + (f" at {plate.first_seen_s:.1f} s" if plate else ""),
        f"Where: {where}" if where else "Where: no GPS for this sighting",
    ]
    if page:
        lines.append(f"Plate page: {page}")
    payload = {
        "text": alert.text, "watch_text": alert.watch_text, "label": alert.label,
        "closeness": alert.closeness, "video_id": alert.video_id, "plate_id": alert.plate_id,
        "trip_id": video.trip_id if video else None, "seen_at": when_cam, "seen_utc": when_utc,
        "lat": plate.lat if plate else None, "lon": plate.lon if plate else None,
        "map": where, "plate_page": page,
    }  # fmt: skip
    return title, "\n".join(lines), payload


def notify(urls: Sequence[str], title: str, body: str, attach: Path | None) -> None:
    """Send through apprise to every URL; raises with the reason when none took it."""
    import apprise

    ap = apprise.Apprise()
    bad = [u for u in urls if not ap.add(u)]
    if bad:
        raise ValueError(
            f"{len(bad)} alert URL(s) apprise does not understand (check DASHCAM_ALERT_URLS; "
            "see https://github.com/caronc/apprise/wiki)"
        )
    attachment = apprise.AppriseAttachment(str(attach)) if attach is not None and attach.is_file() else None
    if not ap.notify(title=title, body=body, attach=attachment):
        raise RuntimeError("no alert service accepted the notification (see the log above for its answer)")


def send_pending(
    session: Session,
    video_id: str,
    cfg: AlertConfig,
    emit: Emit,
    crop_of: Callable[[Plate], Path | None] = lambda p: None,
) -> SendResult:
    """Send the video's pending alerts: the Prefect event, then every configured service."""
    sent = failed = 0
    pending = session.exec(select(Alert).where(Alert.video_id == video_id, Alert.state == "pending")).all()
    video = session.get(Video, video_id)
    for alert in pending:
        plate = session.get(Plate, alert.plate_id) if alert.plate_id else None
        title, body, payload = message(alert, plate, video, cfg)
        if alert.evented_at is None:  # the event once, whatever the services do
            resource = {"prefect.resource.id": f"dashcam.plate.{quote(alert.text)}", "prefect.resource.name": alert.text}
            try:
                emit(EVENT, resource, payload)
            except Exception as exc:  # noqa: BLE001 (the next run emits it)
                log.warning("event %s for %s not emitted: %s: %s", EVENT, alert.text, type(exc).__name__, exc)
            else:
                alert.evented_at = utcnow()
                session.add(alert)
                session.commit()
        try:
            if cfg.urls:
                notify(cfg.urls, title, body, crop_of(plate) if plate else None)
        except Exception as exc:  # noqa: BLE001 (any service failure: keep it pending, say why)
            alert.attempts += 1
            alert.error = f"{type(exc).__name__}: {exc}"[:500]
            if alert.attempts >= ALERT_ATTEMPTS:
                alert.state = "failed"
                failed += 1
            log.warning("alert for %s in %s not sent (attempt %d): %s", alert.text, video_id, alert.attempts, alert.error)
        else:
            alert.state, alert.sent_at, alert.error = "sent", utcnow(), None
            sent += 1
            log.info("alert sent: %s in %s (%s)", alert.text, video_id, alert.label or alert.watch_text)
        session.add(alert)
        session.commit()  # each alert's outcome is kept before the next is sent
    return SendResult(sent=sent, pending=len(pending) - sent - failed, failed=failed)


def run_alerts(
    database_url: str,
    video_id: str,
    cfg: AlertConfig,
    matcher_for: Callable[[Session], Matcher],
    emit: Emit,
    crop_of: Callable[[Plate], Path | None] = lambda p: None,
) -> SendResult:
    """Queue the video's watchlist hits, then send what is pending (finalize calls this after its
    commit and before it publishes archive, so a crash in between redoes it)."""
    with session_scope(database_url) as session:
        queue_alerts(session, video_id, matcher_for(session))
        return send_pending(session, video_id, cfg, emit, crop_of)
