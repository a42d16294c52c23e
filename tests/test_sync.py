"""Dashcam Wi-Fi sync against a real HTTP server emulating a Novatek camera (harness/fake_camera.py).

After every scenario `raw` holds only complete files (byte-compared with the camera's), any
partial is a dot-prefixed `.part` smaller than the clip, and a second sync finishes the job
without fetching anything twice (the fake camera counts requests and body bytes).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from harness.fake_camera import (
    SAMPLE_MP4S,
    FakeCamera,
    FakeFile,
    blob,
    closed_port,
    sample_card,
    silent_host,
    viofo_name,
)
from tasks.sync import (
    CameraError,
    SyncConfig,
    SyncResult,
    list_camera_files,
    local_name,
    parse_file_list,
    parse_period,
    parse_size,
    retention,
    sync,
)

T0 = datetime(2024, 1, 1, 12, 0, 0)
MB = 1 << 20


@pytest.fixture(autouse=True)
def _real_clips() -> None:
    if not all(p.is_file() for p in SAMPLE_MP4S):
        pytest.skip(f"real test clips {SAMPLE_MP4S[0].parent} are absent (../shared/data)")


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    p = tmp_path / "raw"
    p.mkdir()
    return p


def cfg(cam: FakeCamera | str, **kw: object) -> SyncConfig:
    """Fast settings: no retry pauses, short timeouts, no disk limit (the disk is shared)."""
    address = cam if isinstance(cam, str) else cam.address
    base: dict[str, object] = {"retry_delay": 0, "read_timeout": 2.0, "max_disk_percent": None}
    return SyncConfig(address, **{**base, **kw})  # type: ignore[arg-type]


def visible(raw: Path) -> dict[str, Path]:
    """Files ingest would pick up (no dot anywhere in the path), by raw-relative path."""
    return {
        p.relative_to(raw).as_posix(): p
        for p in raw.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(raw).parts)
    }


def assert_clean(raw: Path, files: list[FakeFile]) -> None:
    by_name = {local_name(f.name): f for f in files}
    for rel, p in visible(raw).items():
        f = by_name.get(p.name)
        assert f is not None, f"raw/{rel} is not a camera file"
        assert p.read_bytes() == f.content(), f"raw/{rel} differs from the camera's bytes"
        assert not p.name.endswith(".part")
    for part in raw.rglob("*.part"):
        assert part.name.startswith("."), f"{part}: a partial must be dot-prefixed"
        original = part.name[1 : -len(".part")]
        f = by_name[original]
        assert part.stat().st_size < f.size, f"{part}: a partial as big as the clip"


def gets(cam: FakeCamera, f: FakeFile) -> int:
    return len(cam.gets(f))


def file_order(cam: FakeCamera) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in cam.requests if r.path.startswith("/DCIM/")]


# --- the happy path and the second sync ---


def test_full_sync_then_second_sync_fetches_nothing(raw: Path) -> None:
    files = sample_card(T0, big=1)
    with FakeCamera(files) as cam:
        first = sync(cfg(cam), raw)
        assert first.reachable and not first.failed and first.stopped is None
        assert sorted(first.downloaded) == sorted(f"2024-01-01/{f.name}" for f in files)
        assert first.bytes == sum(f.size for f in files)
        assert_clean(raw, files)
        assert len(visible(raw)) == len(files)

        second = sync(cfg(cam), raw)
        assert second.downloaded == () and sorted(second.skipped) == sorted(f.name for f in files)
        assert all(gets(cam, f) == 1 for f in files)
        assert cam.listing_requests() == 2
    # clip time on the file (the card's time, and what retention falls back on)
    clip = raw / "2024-01-01" / files[0].name
    assert datetime.fromtimestamp(clip.stat().st_mtime) == T0


def test_front_rear_parking_locked_are_told_apart() -> None:
    with FakeCamera(sample_card(T0)) as cam:
        listed = {f.name: f for f in list_camera_files(cam.address, timeout=1)}
    kinds = {(f.channel, f.kind, f.locked) for f in listed.values()}
    assert ("F", "normal", False) in kinds and ("R", "normal", False) in kinds
    assert ("F", "parking", False) in kinds and ("F", "event", True) in kinds
    ro = next(f for f in listed.values() if "/RO/" in f.url_path)
    assert ro.attr == 33 and ro.url_path.startswith("/DCIM/Movie/RO/")


# --- camera away ---


def test_camera_away_is_a_quick_quiet_no_op(raw: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tasks.sync")
    with silent_host() as address:  # SYNs dropped: what an absent camera on the LAN looks like
        t = time.monotonic()
        result = sync(SyncConfig(address), raw)
        elapsed = time.monotonic() - t
    assert not result.reachable and "not reachable" in (result.stopped or "")
    assert elapsed < 1.5
    assert list(raw.iterdir()) == []  # nothing written, not even the state folder
    assert caplog.records == []  # the normal case: not worth a log line every minute

    t = time.monotonic()
    refused = sync(SyncConfig(closed_port()), raw)
    assert not refused.reachable and time.monotonic() - t < 0.5
    assert "not reachable" in refused.summary


# --- interrupted transfers ---


def test_dropped_connection_resumes_with_range(raw: Path) -> None:
    big = FakeFile(viofo_name(T0, 1), data=blob(3 * MB))
    files = [big, *sample_card(T0)[1:3]]
    with FakeCamera(files, drop_first=1) as cam:
        result = sync(cfg(cam), raw)
        assert not result.failed and len(result.downloaded) == 3
        assert gets(cam, big) == 2 and cam.gets(big)[1].range == f"bytes={3 * MB // 2}-"
        assert cam.body_bytes(big) == big.size  # the first half was not fetched again
    assert_clean(raw, files)


def test_dropped_connection_without_range_starts_over(raw: Path) -> None:
    big = FakeFile(viofo_name(T0, 1), data=blob(2 * MB))
    with FakeCamera([big], drop_first=1, range_support=False) as cam:
        result = sync(cfg(cam), raw)
        assert result.downloaded == (f"2024-01-01/{big.name}",)
        assert [r.status for r in cam.gets(big)] == [200, 200]
        assert cam.body_bytes(big) == big.size + big.size // 2
    assert_clean(raw, [big])


def test_part_completed_before_a_crash_is_renamed_without_fetching(raw: Path) -> None:
    f = FakeFile(viofo_name(T0, 1), data=blob(5000))
    (raw / "2024-01-01").mkdir()
    (raw / "2024-01-01" / f".{f.name}.part").write_bytes(f.content())  # killed before the rename
    with FakeCamera([f]) as cam:
        result = sync(cfg(cam), raw)
        assert result.downloaded == (f"2024-01-01/{f.name}",) and gets(cam, f) == 0
    assert_clean(raw, [f])


def test_progress_is_logged(raw: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tasks.sync")
    files = [FakeFile(viofo_name(T0, i), data=blob(MB, i)) for i in range(2)]
    with FakeCamera(files) as cam:
        sync(cfg(cam, log_every=0), raw)
    text = caplog.text
    assert "2 new file(s) on the camera, 2.1 MB" in text
    assert "file 1/2" in text and "MB/s" in text and "s left" in text
    assert "2 downloaded (2.1 MB" in text


def test_attempts_exhausted_then_next_sync_resumes(raw: Path) -> None:
    big = FakeFile(viofo_name(T0, 1), data=blob(2 * MB))
    with FakeCamera([big], drop_first=3) as cam:
        first = sync(cfg(cam, attempts=2), raw)
        assert first.downloaded == () and first.failed[0][0] == big.name
        assert "resumed next sync" in first.failed[0][1]
        assert visible(raw) == {}
        assert_clean(raw, [big])  # the partial is dot-prefixed and short
        second = sync(cfg(cam, attempts=2), raw)
        assert second.downloaded == (f"2024-01-01/{big.name}",)
        assert cam.body_bytes(big) == big.size  # every byte crossed the network once
    assert_clean(raw, [big])


def test_camera_vanishing_mid_sync_leaves_nothing_that_looks_complete(raw: Path) -> None:
    a, b, c = (
        FakeFile(viofo_name(T0 + timedelta(minutes=i), i), data=blob(MB, i)) for i in range(3)
    )
    files = [a, b, c]
    with FakeCamera(files, vanish_after=a.size + MB // 2) as cam:
        t = time.monotonic()
        result = sync(cfg(cam), raw)
        assert time.monotonic() - t < 3
    assert result.reachable and "disappeared" in (result.stopped or "")
    assert result.downloaded == (f"2024-01-01/{a.name}",)
    assert [name for name, _ in result.failed] == [b.name] and result.pending == (c.name,)
    assert_clean(raw, files)
    have = (raw / "2024-01-01" / f".{b.name}.part").stat().st_size
    assert have == MB // 2  # what the camera sent before it left, kept for the resume

    with FakeCamera(files) as back:  # the car is home again (another port: a fresh server)
        again = sync(cfg(back), raw)
        assert sorted(again.downloaded) == sorted(f"2024-01-01/{f.name}" for f in (b, c))
        assert gets(back, a) == 0 and back.gets(b)[0].range == f"bytes={have}-"
        assert back.body_bytes(b) == b.size - have
    assert_clean(raw, files)
    assert len(visible(raw)) == 3 and not list(raw.rglob("*.part"))


def test_camera_going_silent_mid_file_times_out_and_stops(raw: Path) -> None:
    a, b = (FakeFile(viofo_name(T0 + timedelta(minutes=i), i), data=blob(MB, i)) for i in range(2))
    with FakeCamera([a, b], vanish_after=a.size + MB // 4, stall=True) as cam:
        t = time.monotonic()
        result = sync(cfg(cam, read_timeout=0.5), raw)
        assert time.monotonic() - t < 3
    assert "disappeared" in (result.stopped or "") and result.downloaded == (
        f"2024-01-01/{a.name}",
    )
    assert_clean(raw, [a, b])


# --- odd listings ---


def test_listed_file_that_404s_fails_alone(raw: Path) -> None:
    files = sample_card(T0)
    files[1].missing = True
    with FakeCamera(files) as cam:
        result = sync(cfg(cam), raw)
    assert [name for name, _ in result.failed] == [files[1].name]
    assert "404" in result.failed[0][1]
    assert len(result.downloaded) == len(files) - 1
    assert_clean(raw, files)


def test_size_in_list_differs_from_served(raw: Path) -> None:
    f = FakeFile(viofo_name(T0, 1), data=blob(1000), listed_size=1010)
    with FakeCamera([f]) as cam:
        result = sync(cfg(cam), raw)
    assert result.failed and "lists 1010 bytes but serves 1000" in result.failed[0][1]
    assert visible(raw) == {} and not list(raw.rglob("*.part"))


def test_odd_names_spaces_unicode_ampersand_percent_very_long(raw: Path) -> None:
    files = [
        FakeFile("2024_0101_120000_00001F ünïcødé 日本.MP4", data=blob(5000, 1), time=T0),
        FakeFile("clip & friends 100% #1.MP4", data=blob(6000, 2), time=T0),
        FakeFile("2024_0101_120100_" + "x" * 300 + ".MP4", data=blob(7000, 3)),
    ]
    # escape_xml=False: firmware that writes names raw (a bare & is not well-formed XML)
    with FakeCamera(files, escape_xml=False) as cam:
        result = sync(cfg(cam), raw)
        assert not result.failed and len(result.downloaded) == 3
        again = sync(cfg(cam), raw)
        assert again.downloaded == () and all(gets(cam, f) == 1 for f in files)
    assert_clean(raw, files)
    long = next(p for p in visible(raw).values() if "xxx" in p.name)
    assert len(os.fsencode(long.name)) <= 255 - 6 and long.name.endswith(".MP4")
    assert long.parent.name == "2024-01-01"  # the time came from the name


def test_names_cannot_escape_raw(raw: Path) -> None:
    f = FakeFile("evil.MP4", data=b"x" * 100)
    listing = (
        b"<LIST><ALLFile><File><NAME>../../evil.MP4</NAME>"
        b"<FPATH>A:\\DCIM\\Movie\\evil.MP4</FPATH><SIZE>100</SIZE><ATTR>32</ATTR>"
        b"</File></ALLFile></LIST>"
    )
    with FakeCamera([f], listing_body=listing) as cam:
        result = sync(cfg(cam, grouping="none"), raw)
    assert result.downloaded == ("evil.MP4",)
    assert (raw / "evil.MP4").read_bytes() == b"x" * 100
    assert not (raw.parent / "evil.MP4").exists()


def test_html_error_page_instead_of_the_list(raw: Path) -> None:
    with FakeCamera(sample_card(T0), listing_html=True) as cam:
        result = sync(cfg(cam), raw)
    assert result.reachable and result.failed[0][0] == "file list"
    assert "not the Novatek XML list" in result.failed[0][1] and visible(raw) == {}


LISTING = b"""<?xml version="1.0" encoding="UTF-8" ?>
<LIST>
<ALLFile><File>
<NAME>2024_0101_120000_00001F.MP4</NAME>
<FPATH>A:\\DCIM\\Movie\\2024_0101_120000_00001F.MP4</FPATH>
<SIZE>100</SIZE>
<TIMECODE>1</TIMECODE>
<TIME>2024/01/01 12:00:00</TIME>
<ATTR>32</ATTR></File>
</ALLFile>
<ALLFile><File><FPATH>A:\\DCIM\\Movie\\RO\\2024_0101_120100_00002R.MP4</FPATH><ATTR>33</ATTR></File></ALLFile>
<ALLFile><File><NAME>GRMN0001.MP4</NAME><SIZE>abc</SIZE><TIME>2023/05/06 07:08:09</TIME></File></ALLFile>
<ALLFile><File><TIMECODE>5</TIMECODE></File></ALLFile>
<ALLFile><File><NAME>2024_0101_120200_00003PF.MP4</NAME><FPATH>A:\\DCIM\\Movie\\Parking\\2024_0101_120200_00003PF.MP4</FPATH><SIZE>7</SIZE><ATTR>32</ATTR></File></ALLFile>
</LIST>
"""


@pytest.mark.parametrize(
    "body",
    [
        LISTING,
        LISTING.replace(b"GRMN0001", b"GRMN&0001"),  # unescaped & -> tolerant fallback
        LISTING.replace(b"</LIST>\n", b""),  # list cut short by the camera
    ],
    ids=["xml", "unescaped-ampersand", "truncated"],
)
def test_parse_file_list_tolerates_missing_fields(body: bytes) -> None:
    files = parse_file_list(body)
    assert len(files) == 4  # the entry with neither NAME nor FPATH is dropped
    first, ro, garmin, parking = files
    assert (first.size, first.time, first.attr, first.channel, first.kind) == (
        100,
        T0,
        32,
        "F",
        "normal",
    )
    assert first.url_path == "/DCIM/Movie/2024_0101_120000_00001F.MP4"
    assert ro.name == "2024_0101_120100_00002R.MP4" and ro.size is None and ro.locked
    assert ro.url_path == "/DCIM/Movie/RO/2024_0101_120100_00002R.MP4" and ro.kind == "event"
    assert garmin.size is None and garmin.time == datetime(2023, 5, 6, 7, 8, 9)
    assert garmin.url_path.startswith("/DCIM/Movie/GRMN")
    assert parking.kind == "parking" and not parking.locked


def test_parse_file_list_refuses_what_is_not_a_list() -> None:
    assert parse_file_list(b"<?xml version='1.0'?><LIST></LIST>") == []
    for junk in (b"<html><body>404</body></html>", b"", b"\xff\xfe garbage"):
        with pytest.raises(CameraError, match="not the Novatek XML list"):
            parse_file_list(junk)


# --- layout and order ---


@pytest.mark.parametrize(
    ("grouping", "expected"),
    [
        ("daily", {"2024-01-01", "2023-01-01"}),
        ("weekly", {"2024-W01", "2022-W52"}),  # 2023-01-01 is a Sunday: ISO week 52 of 2022
        ("monthly", {"2024-01", "2023-01"}),
        ("none", {""}),
    ],
)
def test_grouping(raw: Path, grouping: str, expected: set[str]) -> None:
    files = [
        FakeFile(viofo_name(T0, 1), data=blob(100, 1)),
        FakeFile(viofo_name(datetime(2023, 1, 1, 23, 59, 59), 2), data=blob(100, 2)),
    ]
    with FakeCamera(files) as cam:
        result = sync(cfg(cam, grouping=grouping), raw)
    groups = {rel.rpartition("/")[0] for rel in result.downloaded}
    assert groups == expected
    assert_clean(raw, files)


def test_clip_without_any_time_goes_under_today(raw: Path) -> None:
    f = FakeFile("GRMN0001.MP4", data=blob(100), omit_fpath=True)  # URL guessed: /DCIM/Movie/
    with FakeCamera([f]) as cam:
        result = sync(cfg(cam), raw)
    assert result.downloaded == (f"{datetime.now():%Y-%m-%d}/GRMN0001.MP4",)


@pytest.mark.parametrize(
    ("priority", "order"), [("oldest", "abcd"), ("newest", "cbad"), ("locked", "cabd")]
)
def test_priority(raw: Path, priority: str, order: str) -> None:
    a = FakeFile(viofo_name(T0, 1), data=blob(100, 1))
    b = FakeFile(viofo_name(T0 + timedelta(hours=1), 2), data=blob(100, 2))
    c = FakeFile(
        viofo_name(T0 + timedelta(hours=2), 3), folder="Movie/RO", attr=33, data=blob(100, 3)
    )
    d = FakeFile("GRMN0001.MP4", data=blob(100, 4))  # no time: always last
    files = {"a": a, "b": b, "c": c, "d": d}
    with FakeCamera([b, d, c, a]) as cam:
        sync(cfg(cam, priority=priority), raw)
        assert file_order(cam) == [files[k].name for k in order]


def test_locked_only(raw: Path) -> None:
    files = sample_card(T0)
    with FakeCamera(files) as cam:
        result = sync(cfg(cam, locked_only=True), raw)
    assert [rel.rpartition("/")[2] for rel in result.downloaded] == [files[4].name]


# --- what is already there ---


def test_existing_file_same_size_is_skipped_different_size_is_left_alone(raw: Path) -> None:
    same, other = sample_card(T0)[:2]
    (raw / "2024-01-01").mkdir()
    (raw / "2024-01-01" / same.name).write_bytes(same.content())
    (raw / "2024-01-01" / other.name).write_bytes(b"someone else's file")
    with FakeCamera([same, other]) as cam:
        result = sync(cfg(cam), raw)
        assert gets(cam, same) == 0 and gets(cam, other) == 0
    assert result.skipped == (same.name,)
    assert result.failed[0][0] == other.name and "already exists" in result.failed[0][1]
    assert (raw / "2024-01-01" / other.name).read_bytes() == b"someone else's file"


def test_clip_deleted_from_raw_by_the_pipeline_is_not_fetched_again(raw: Path) -> None:
    files = sample_card(T0)
    with FakeCamera(files) as cam:
        sync(cfg(cam), raw)
        for p in visible(raw).values():
            p.unlink()  # cleanup after archiving
        again = sync(cfg(cam), raw)
        assert again.downloaded == () and len(again.skipped) == len(files)
        assert all(gets(cam, f) == 1 for f in files)


def test_torn_ledger_line_does_not_lose_the_next_entry(raw: Path) -> None:
    a, b = sample_card(T0)[:2]
    with FakeCamera([a]) as cam:
        sync(cfg(cam), raw)
    ledger = raw / ".sync" / "downloaded.jsonl"
    ledger.write_text(ledger.read_text() + '{"name": "torn by a cra')  # power cut mid-append
    with FakeCamera([a, b]) as cam:
        assert sync(cfg(cam), raw).downloaded == (f"2024-01-01/{b.name}",)
    for p in visible(raw).values():
        p.unlink()
    with FakeCamera([a, b]) as cam:  # both remembered: nothing fetched again
        assert sync(cfg(cam), raw).downloaded == () and gets(cam, a) + gets(cam, b) == 0


def test_one_sync_at_a_time(raw: Path) -> None:
    (raw / ".sync").mkdir()
    with open(raw / ".sync" / "lock", "a+") as held, FakeCamera(sample_card(T0)) as cam:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = sync(cfg(cam), raw)
    assert result.reachable and "another sync" in (result.stopped or "") and visible(raw) == {}


# --- retention and disk limit ---


def test_retention_deletes_only_old_archived_downloads(raw: Path) -> None:
    recent = datetime.now().replace(microsecond=0) - timedelta(days=1)
    old_archived = FakeFile(viofo_name(T0, 1), data=blob(100, 1))
    old_pending = FakeFile(viofo_name(T0 + timedelta(days=1), 2), data=blob(100, 2))
    new_archived = FakeFile(viofo_name(recent, 3), data=blob(100, 3))
    files = [old_archived, old_pending, new_archived]
    with FakeCamera(files) as cam:
        first = sync(cfg(cam), raw)
        rel = {f.name: r for f in files for r in first.downloaded if r.endswith(f.name)}
        archived = {rel[old_archived.name], rel[new_archived.name]}
        # not ours: a hand-copied old clip the pipeline archived stays
        (raw / "2024-01-01" / "manual.MP4").write_bytes(b"m")
        os.utime(raw / "2024-01-01" / "manual.MP4", (T0.timestamp(), T0.timestamp()))
        # a partial untouched for longer than the period goes; a fresh one stays
        stale, fresh = raw / "2024-01-01" / ".gone.MP4.part", raw / "2024-01-01" / ".live.MP4.part"
        stale.write_bytes(b"p")
        fresh.write_bytes(b"p")
        os.utime(stale, (T0.timestamp(), T0.timestamp()))

        asked: list[str] = []

        def is_archived(r: str) -> bool:
            asked.append(r)
            return r in archived or r == "2024-01-01/manual.MP4"

        second = sync(cfg(cam, keep="30d"), raw, is_archived)
        assert second.deleted == (rel[old_archived.name],)
        assert not (raw / rel[old_archived.name]).exists()
        assert (raw / rel[old_pending.name]).exists() and (raw / rel[new_archived.name]).exists()
        assert (raw / "2024-01-01" / "manual.MP4").exists()
        assert not stale.exists() and fresh.exists()
        assert rel[new_archived.name] not in asked  # too young: the DB is not even asked
        third = sync(cfg(cam, keep="30d"), raw, is_archived)  # deleted, but not fetched again
        assert third.downloaded == () and all(gets(cam, f) == 1 for f in files)


def test_retention_keeps_everything_when_the_archive_check_fails(raw: Path) -> None:
    files = sample_card(T0)
    with FakeCamera(files) as cam:
        sync(cfg(cam), raw)

        def broken(_: str) -> bool:
            raise RuntimeError("database is down")

        result = sync(cfg(cam, keep="1d"), raw, broken)
    assert result.deleted == () and len(visible(raw)) == len(files)


@pytest.mark.parametrize("limit", ["percent", "bytes"])
def test_disk_limit_stops_downloading(
    raw: Path, monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    files = [FakeFile(viofo_name(T0 + timedelta(minutes=i), i), data=blob(MB, i)) for i in range(4)]
    total = 100 * MB
    cap = 90 * MB
    base = cap - MB - MB // 2  # room for one more clip, not two

    def usage(_: Path) -> tuple[int, int]:
        return base + sum(p.stat().st_size for p in visible(raw).values()), total

    monkeypatch.setattr(retention, "disk_usage", usage)  # where over_limit looks it up
    kw: dict[str, object] = (
        {"max_disk_percent": 90.0} if limit == "percent" else {"max_disk_bytes": cap}
    )
    with FakeCamera(files) as cam:
        result = sync(cfg(cam, **kw), raw)
    assert len(result.downloaded) == 1 and result.failed == ()
    assert "disk limit" in (result.stopped or "") and len(result.pending) == 3
    assert_clean(raw, files)


# --- configuration ---


def test_config_validation_and_parsing() -> None:
    assert parse_period("30d") == timedelta(days=30) and parse_period("4w") == timedelta(weeks=4)
    assert parse_period("12h") == timedelta(hours=12) and parse_period("7") == timedelta(days=7)
    assert parse_size("500G") == 500 * 2**30 and parse_size("1024") == 1024
    c = SyncConfig("[::1]:8080", keep="2w", max_disk_bytes="1T")
    assert (c.host, c.port, c.retention, c.max_disk_bytes) == (
        "::1",
        8080,
        timedelta(weeks=2),
        2**40,
    )
    assert SyncConfig("http://192.168.1.254/").port == 80
    for bad in (
        {"grouping": "yearly"},
        {"priority": "random"},
        {"keep": "soon"},
        {"max_disk_percent": 150},
        {"connect_timeout": 0},
    ):
        with pytest.raises(ValueError):
            SyncConfig("192.168.1.254", **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="host"):
        SyncConfig("192.168.1.254:notaport")
    assert not SyncResult(reachable=False, stopped="camera not reachable at x").reachable


def test_missing_raw_volume_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="mount it or create it"):
        sync(SyncConfig("127.0.0.1:9"), tmp_path / "nope")
