"""Watchlist alerts: a real clip through heavy and finalize, apprise posting to a real HTTP
receiver on loopback; one notification per plate per video across finalize reruns."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from dashcam.settings import Settings
from flows.config import finalize_config, heavy_config, ingest_config
from models.db import session_scope, upgrade
from models.tables import Alert
from tasks import watchlist
from tasks.finalize import apply_bundle, load_bundle, send_watchlist_alerts
from tasks.heavy import run_heavy
from tasks.ingest import scan
from tasks.synthetic import render_plate_clip
from tests.conftest import Receiver, free_port


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def finalized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A clip of KA12BCD through heavy; the data dir and video_id (finalize is the test's)."""
    root = tmp_path_factory.mktemp("alerts")
    raw = root / "raw" / "t"
    raw.mkdir(parents=True)
    render_plate_clip(raw / "2024_0601_083000_00001F.MP4", text="KA12BCD", seconds=3.0, seed=1)
    s = Settings(data_dir=root / "data", raw_root=root / "raw", stable_seconds=0)
    upgrade(s.database_url)
    with session_scope(s.database_url) as session:
        new = scan(ingest_config(s), session).new[0]
    assert run_heavy(heavy_config(s), new.video_id, new.path).status == "ok"
    return root, new.video_id


def _settings(root: Path, **kw: object) -> Settings:
    return Settings(data_dir=root / "data", raw_root=root / "raw", **kw)


def _finalize(s: Settings, video_id: str, events: list) -> object:
    manifest, det = load_bundle(finalize_config(s), video_id)
    with session_scope(s.database_url) as session:
        apply_bundle(session, video_id, manifest, det, finalize_config(s))
    return send_watchlist_alerts(finalize_config(s), video_id, watchlist.matcher, lambda *e: events.append(e))


def _reset(s: Settings) -> None:
    with session_scope(s.database_url) as session:
        for a in session.exec(select(Alert)):
            session.delete(a)
        for e in watchlist.list_entries(session):
            session.delete(e)


def test_a_watched_plate_is_sent_once_with_its_crop_and_links(finalized, receiver: Receiver) -> None:
    root, video_id = finalized
    s = _settings(root, alert_urls=receiver.url, dashboard_url="https://dashcam.home/")
    _reset(s)
    with session_scope(s.database_url) as session:
        watchlist.add_entry(session, "KA12BCD", "neighbour's van")
    events: list = []
    for _ in range(3):  # finalize reruns (a crash, a retry, `dashcam process` again)
        _finalize(s, video_id, events)
    assert len(receiver.posts) == 1, receiver.posts
    post = receiver.posts[0]
    assert "KA12BCD" in post["title"] and "neighbour's van" in post["title"]
    assert f"Video: {video_id}" in post["message"]
    assert "https://dashcam.home/plate?text=KA12BCD" in post["message"]
    [crop] = post["attachments"]
    assert crop["mimetype"] == "image/jpeg" and base64.b64decode(crop["base64"])[:2] == b"\xff\xd8"
    assert [e[0] for e in events] == ["dashcam.watchlist.hit"]
    assert events[0][2]["text"] == "KA12BCD" and events[0][2]["label"] == "neighbour's van"
    with session_scope(s.database_url) as session:
        [alert] = session.exec(select(Alert)).all()
        assert alert.state == "sent" and alert.sent_at is not None and alert.closeness == 0


def test_a_near_match_alerts_as_the_pages_mark_it(finalized, receiver: Receiver) -> None:
    root, video_id = finalized
    s = _settings(root, alert_urls=receiver.url)
    _reset(s)
    with session_scope(s.database_url) as session:
        watchlist.add_entry(session, "KA12BCE", "")  # one character off
        watchlist.add_entry(session, "ZZ999ZZ", "")
    events: list = []
    _finalize(s, video_id, events)
    assert len(receiver.posts) == 1 and "one character off" in receiver.posts[0]["message"]
    assert "Plate page" not in receiver.posts[0]["message"]  # no dashboard_url: no link


def test_a_service_that_is_down_never_fails_finalize_and_is_retried(finalized) -> None:
    root, video_id = finalized
    down = f"json://127.0.0.1:{free_port()}/hook"  # nothing listens there
    s = _settings(root, alert_urls=down)
    _reset(s)
    with session_scope(s.database_url) as session:
        watchlist.add_entry(session, "KA12BCD", "")
    events: list = []
    first = _finalize(s, video_id, events)
    assert (first.sent, first.pending) == (0, 1)
    with session_scope(s.database_url) as session:
        [alert] = session.exec(select(Alert)).all()
        assert alert.state == "pending" and alert.attempts == 1 and "accepted" in alert.error
    back = Receiver()  # the service comes back: the next run sends it, once
    try:
        later = send_watchlist_alerts(
            finalize_config(_settings(root, alert_urls=back.url)), video_id, watchlist.matcher, lambda *e: events.append(e)
        )
        assert later.sent == 1 and len(back.posts) == 1
        assert len(events) == 1, "the Prefect event went out once, on the first try"
    finally:
        back.close()


def test_no_watchlist_no_alert_and_a_bad_url_says_so(finalized, receiver: Receiver) -> None:
    root, video_id = finalized
    s = _settings(root, alert_urls=receiver.url)
    _reset(s)
    events: list = []
    _finalize(s, video_id, events)
    assert receiver.posts == [] and events == []
    s = _settings(root, alert_urls="not-a-service://x")
    with session_scope(s.database_url) as session:
        watchlist.add_entry(session, "KA12BCD", "")
    _finalize(s, video_id, events)
    with session_scope(s.database_url) as session:
        [alert] = session.exec(select(Alert)).all()
        assert alert.state == "pending" and "DASHCAM_ALERT_URLS" in alert.error
    assert "not-a-service://x" in s.secrets()  # alert URLs carry tokens: scrubbed like credentials
