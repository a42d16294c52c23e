"""Plate tracks across sampled frames, per-track voting, and heavy reading tracks, not boxes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from dashcam.settings import Settings
from flows.config import heavy_config, volumes
from tasks.grouping import (
    GLIMPSE_MIN_READ,
    Observation,
    Read,
    crop_quality,
    merge_tracks,
    vote,
    weak_glimpses,
)
from tasks.synthetic import render_plate_clip, render_plate_image
from tasks.tracking import PlateTracker, look


def box(cx: float, cy: float, w: float = 100, h: float = 30) -> tuple[float, float, float, float]:
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def test_two_plates_side_by_side_keep_their_tracks() -> None:
    tr = PlateTracker()
    ids = [
        tr.update(t * 0.5, [box(300 + 20 * t, 500), box(900 - 15 * t, 520)], [2 * t, 2 * t + 1])
        for t in range(6)
    ]
    assert (
        len({i[0] for i in ids}) == 1 and len({i[1] for i in ids}) == 1 and ids[0][0] != ids[0][1]
    )
    # Given in the other order, each box still goes to its own track (Hungarian, not greedy).
    assert tr.update(3.0, [box(1000 - 90, 520), box(420, 500)], [12, 13]) == [ids[0][1], ids[0][0]]


def test_a_fast_plate_is_followed_by_its_velocity() -> None:
    """Moving 1.5 plate widths between samples: no IoU at all, still one track."""
    tr = PlateTracker()
    got = [tr.update(t * 0.5, [box(100 + 150 * t, 400)], [t])[0] for t in range(6)]
    assert len(set(got)) == 1
    [track] = tr.pop_finished()
    assert track.members == list(range(6))


def test_a_jump_or_a_size_change_starts_a_new_track() -> None:
    tr = PlateTracker()
    a = tr.update(0.0, [box(100, 400)], [0])[0]
    assert tr.update(0.5, [box(900, 400)], [1])[0] != a  # 8 plate widths away
    b = tr.update(1.0, [box(900, 400, w=400, h=120)], [2])[0]
    assert b not in (a, 2)  # 4x the size: another (nearer) plate


def test_the_next_plate_at_the_same_place_is_another_track() -> None:
    """Parked cars passed one after another: each plate grows as it comes closer, then the
    next one appears where the last one was, smaller. IoU and position alone join them."""
    tr = PlateTracker()
    widths = [100, 130, 170, 220, 100, 130, 170, 220]  # two plates, 0.5 s apart each
    ids = [tr.update(k * 0.5, [box(960, 600, w=w, h=w / 4)], [k])[0] for k, w in enumerate(widths)]
    assert len(set(ids[:4])) == 1 and len(set(ids[4:])) == 1 and ids[0] != ids[4]
    # A plate that keeps growing at the same pace stays one track, even 2x in 1 s.
    tr = PlateTracker()
    grow = [tr.update(k * 0.5, [box(960, 600, w=80 * 1.4**k)], [k])[0] for k in range(6)]
    assert len(set(grow)) == 1


def _plate_frame(text: str, colour: tuple[int, int, int], width: int = 160) -> np.ndarray:
    """A car-coloured frame with a rendered plate at its centre (box: `_PLATE_BOX`)."""
    frame = np.full((400, 600, 3), colour, dtype=np.uint8)
    plate = render_plate_image(text, width)
    ph, pw = plate.shape[:2]
    frame[200 - ph // 2 : 200 - ph // 2 + ph, 300 - pw // 2 : 300 - pw // 2 + pw] = plate
    return frame


def test_a_plate_that_looks_different_is_another_track() -> None:
    """Same place, same size: only the look (the characters, the car's colour) tells them apart."""
    b = box(300, 200, w=160, h=34)
    first = _plate_frame("KA12BCD", (40, 40, 160))
    again = cv2.GaussianBlur(first, (3, 3), 0)  # the same plate, a little softer
    other = _plate_frame("WX98YZ1", (150, 110, 40))
    tr = PlateTracker()
    a = tr.update(0.0, [b], [0], [look(first, b)])[0]
    assert tr.update(0.5, [b], [1], [look(again, b)])[0] == a
    assert tr.update(1.0, [b], [2], [look(other, b)])[0] != a
    # A scene cut ends every track: nothing continues across it.
    tr.cut()
    assert tr.active == [] and {t.track_id for t in tr.pop_finished()} >= {a}


def test_tracks_finish_after_max_age_and_gaps_in_time_are_fine() -> None:
    tr = PlateTracker(max_age_s=2.0)
    a = tr.update(0.0, [box(100, 400)], [0])[0]
    assert tr.update(1.5, [box(110, 400)], [1])[0] == a  # frames in between skipped (gating)
    assert tr.pop_finished(3.0) == []
    [done] = tr.pop_finished(4.0)
    assert done.track_id == a and done.members == [0, 1]
    assert tr.update(4.0, [box(120, 400)], [2])[0] != a


def test_a_static_scene_holds_tracks_alive() -> None:
    """At a red light frames skip the detector as static: the plate in view keeps its track."""
    tr = PlateTracker(max_age_s=2.0)
    a = tr.update(0.0, [box(100, 400)], [0])[0]
    tr.update(0.5, [box(130, 400)], [1])  # it was moving (velocity 60 px/s)
    for k in range(2, 40):  # 19 s standing, every frame static
        tr.hold(k * 0.5)
    assert tr.pop_finished(20.0) == []
    assert tr.update(20.0, [box(131, 401)], [2])[0] == a  # not predicted 19 s further on


def test_vote_weights_confidence_and_crop_quality() -> None:
    reads = [Read(0, "KA12BCD", 0.80, 1.0), Read(1, "KA12BC0", 0.85, 0.1), Read(2, "KA12BCD", 0.7, 0.9),
             Read(3, "XY", 0.99, 1.0), Read(4, "ZZ99ZZZ", 0.3, 1.0)]  # fmt: skip
    g = vote(reads, [0, 1, 2, 3, 4, 5], min_confidence=0.5, min_chars=4)
    assert g is not None and g.text == "KA12BCD" and g.best == 0 and g.members == [0, 1, 2, 3, 4, 5]
    assert set(g.alternates) == {"KA12BC0"} and 0.5 < g.confidence < 0.8
    # The same confidence from a poor crop counts less: the sharp crop's read wins.
    g = vote(
        [Read(0, "AB123CD", 0.8, 0.1), Read(1, "AB128CD", 0.8, 1.0)],
        [0, 1],
        min_confidence=0.5,
        min_chars=4,
    )
    assert g is not None and g.text == "AB128CD" and g.best == 1
    assert vote([Read(0, "AB", 0.9)], [0], min_confidence=0.5, min_chars=4) is None
    assert crop_quality(300, 1e6, 0.9) > 0.99 and crop_quality(50, 100, 0.9) < 0.2


def test_tracks_of_one_plate_merge_within_the_gap() -> None:
    obs = [
        Observation(frame_s=t, box=box(0, 0), det_confidence=0.9, text=None, confidence=None)
        for t in (0, 1, 5, 6, 30)
    ]
    tracks = [
        ([Read(0, "KA12BCD", 0.9)], [0, 1]),
        ([Read(2, "KA12BC0", 0.6)], [2, 3]),
        ([Read(4, "KA12BCD", 0.9)], [4]),
    ]
    plates = merge_tracks(tracks, obs, min_confidence=0.5, min_chars=4)
    assert [p.text for p in plates] == ["KA12BCD", "KA12BCD"]  # 30 s later: seen again
    assert plates[0].members == [0, 1, 2, 3] and "KA12BC0" in plates[0].alternates


def _obs(t: float, b: tuple[float, float, float, float]) -> Observation:
    return Observation(frame_s=t, box=b, det_confidence=0.9, text=None, confidence=None)


def test_partial_reads_and_misread_copies_fold_into_the_plate() -> None:
    """Held-out footage stored `PE63` beside `PE63TVF` and `V09DEY` beside `VX09DCZ`: the
    same plate read twice. Folded, they are alternates of the one plate."""
    obs = [
        _obs(0.0, box(500, 400)), _obs(0.5, box(520, 400)),  # PE63TVF's track
        _obs(0.5, box(505, 400, w=50)),  # a box on the plate's left half: "PE63"
        _obs(1.0, box(540, 400)), _obs(1.5, box(560, 400)),  # VX09DCZ's, right after
        _obs(2.0, box(580, 400)),  # V09DEY, where that track went on
        _obs(1.0, box(1500, 400)),  # far away, same time: a different car
    ]  # fmt: skip
    tracks = [
        ([Read(0, "PE63TVF", 0.9), Read(1, "PE63TVF", 0.9)], [0, 1]),
        ([Read(2, "PE63", 0.9)], [2]),
        ([Read(6, "PE6312", 0.9)], [6]),
    ]
    plates = merge_tracks(tracks, obs, min_confidence=0.5, min_chars=4)
    assert [p.text for p in plates] == ["PE63TVF", "PE6312"]
    assert "PE63" in plates[0].alternates and plates[0].members == [0, 1, 2]
    tracks = [([Read(3, "VX09DCZ", 0.9), Read(4, "VX09DCZ", 0.8)], [3, 4]),
              ([Read(5, "V09DEY", 0.7)], [5])]  # fmt: skip
    [plate] = merge_tracks(tracks, obs, min_confidence=0.5, min_chars=4)
    assert plate.text == "VX09DCZ" and "V09DEY" in plate.alternates and plate.members == [3, 4, 5]
    # Different texts at the same place 30 s apart are two plates.
    far = [_obs(0.0, box(500, 400)), _obs(30.0, box(500, 400))]
    tracks = [([Read(0, "VX09DCZ", 0.9)], [0]), ([Read(1, "VX09DEZ", 0.9)], [1])]
    assert len(merge_tracks(tracks, far, min_confidence=0.5, min_chars=4, max_gap_s=5)) == 2


def test_a_partial_box_the_frame_before_folds_into_the_plate() -> None:
    """Tuning clip: the detector boxed a plate's right half (43 px, read `BVWMK4`), and half a
    second later the whole plate (91 px, `OBVMK4`): too different in size for one track, but
    the small box lies on the big one. The next parked car, smaller where the last one was,
    stays its own plate when the texts are unrelated."""
    obs = [
        _obs(5.0, (1005, 638, 1048, 655)),
        _obs(5.5, (959, 644, 1050, 669)), _obs(6.0, (938, 650, 1056, 684)),
        _obs(6.5, (950, 640, 990, 652)),  # the next car's plate, far and small
    ]  # fmt: skip
    tracks = [
        ([Read(0, "BVWMK4", 0.99)], [0]),
        ([Read(1, "OBVMK4", 0.92), Read(2, "OBVMK4", 0.92)], [1, 2]),
        ([Read(3, "RK161AG", 0.99)], [3]),
    ]
    plates = merge_tracks(tracks, obs, min_confidence=0.5, min_chars=4)
    assert len(plates) == 2 and plates[1].text == "RK161AG"
    assert {plates[0].text, *plates[0].alternates} == {"BVWMK4", "OBVMK4"}
    assert plates[0].members == [0, 1, 2]
    # The next parked car: its plate appears small inside the last one's big box, half a
    # second after, with a text one or two edits away. Two plates.
    nxt = [_obs(5.0, (930, 640, 1060, 680)), _obs(5.5, (990, 650, 1030, 662))]
    pair = [([Read(0, "4233784", 0.99)], [0]), ([Read(1, "421774", 0.99)], [1])]
    assert len(merge_tracks(pair, nxt, min_confidence=0.5, min_chars=4)) == 2
    # One frame more apart (1.5 s), nothing ties the small box to the plate.
    late = [_obs(4.0, obs[0].box), obs[1], obs[2]]
    assert len(merge_tracks(tracks[:2], late, min_confidence=0.5, min_chars=4)) == 2


def test_after_a_gap_a_plate_continues_only_at_the_size_it_was_growing_to() -> None:
    """Held-out night clip: `RK300AG` closes in (105 to 225 px over 2.5 s), nothing is boxed
    for 2 s, then the next parked car's plate `RK340AO` (two edits away) shows up at 162 px
    where the last one was. A plate that was growing would be ~400 px by then: two plates.
    Lost behind another car and found again at the size it was growing to, it is one."""
    widths = [105, 120, 142, 168, 195, 225]
    first = [_obs(0.5 * k, box(950, 655, w=w)) for k, w in enumerate(widths)]
    reads = [Read(k, "RK300AG", 0.9) for k in range(len(widths))]
    for later, plates in (((162, 178, 201), 2), ((400, 450, 500), 1)):
        second = [_obs(4.5 + 0.5 * k, box(980, 660, w=w)) for k, w in enumerate(later)]
        obs = first + second
        tracks = [(reads, list(range(6))), ([Read(j, "RK340AO", 0.9) for j in (6, 7, 8)], [6, 7, 8])]
        got = merge_tracks(tracks, obs, min_confidence=0.5, min_chars=4)
        assert len(got) == plates, [p.text for p in got]


def test_a_short_read_that_fits_no_format_is_not_a_plate() -> None:
    from tasks.heavy import plate_text_check
    from tasks.plate_formats import formats_for

    is_plate = plate_text_check(None)  # no region known
    assert not is_plate("TAA5") and not is_plate("49AM")
    assert is_plate("LZW9715") and is_plate("PE63TVF")
    # Where short plates exist (Germany: `T AA 5`), a short read that fits one is a plate.
    assert plate_text_check(formats_for("eu"))("TAA5")
    assert not plate_text_check(formats_for("eu"))("49AM")
    # US vanity plates may be short (DC's 2368): where the car is known to be in the US.
    assert plate_text_check(formats_for("us"))("2368")
    assert plate_text_check(formats_for("us-dc"))("AAAC")
    assert not plate_text_check(formats_for("gb"))("49AM")
    # Longer than any layout of the formats: a dealer frame's line, not a plate.
    assert not is_plate("WWWUMENIESK")
    assert is_plate("UP16CU0006")  # India's 10 characters are the longest known
    assert plate_text_check(formats_for("us"))("UP16CU0006")  # a car from elsewhere
    obs = [_obs(0.0, box(500, 400)), _obs(5.0, box(900, 400))]
    tracks = [([Read(0, "TAA5", 0.9)], [0]), ([Read(1, "LZW9715", 0.9)], [1])]
    plates = merge_tracks(tracks, obs, min_confidence=0.5, min_chars=4, is_plate=is_plate)
    assert [p.text for p in plates] == ["LZW9715"]


@pytest.fixture(scope="module")
def gap_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same car for 2 s, 3 s of black (the plate lost), the car again for 2 s."""
    d = tmp_path_factory.mktemp("tracking")
    part = render_plate_clip(
        d / "part.mp4", text="KA12BCD", seconds=2.0, width=1280, height=720, seed=2
    )
    out = d / "raw" / "gap.mp4"
    out.parent.mkdir()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(part), "-f", "lavfi", "-i",
         "color=black:s=1280x720:r=30:d=3", "-i", str(part), "-filter_complex",
         "[0:v][1:v][2:v]concat=n=3:v=1[v]", "-map", "[v]", "-c:v", "libx264", "-preset",
         "veryfast", "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )  # fmt: skip
    return out


def test_heavy_reads_tracks_not_boxes(gap_clip: Path, tmp_path: Path) -> None:
    from tasks.heavy import run_heavy

    settings = Settings(data_dir=tmp_path / "data", raw_root=gap_clip.parent)
    res = run_heavy(heavy_config(settings), "gap", gap_clip.name)
    assert res.status == "ok" and res.plates == 1
    det = json.loads((volumes(settings).volume_root("work") / "gap" / "detections.json").read_text())
    t = det["timings"]
    assert t["tracks"] == 2 and t["frames_skipped"].get("dark", 0) >= 5  # black frames skip
    boxes = len(det["sightings"])
    assert boxes >= 7 and t["ocr_reads"] <= 2 * 3 < boxes  # the best 3 crops of each track
    [plate] = det["plates"]
    assert plate["text"] == "KA12BCD" and plate["sighting_count"] == boxes
    assert all(s["plate_id"] == plate["plate_id"] for s in det["sightings"])
    read = [s for s in det["sightings"] if s["text"]]
    assert len(read) == t["ocr_reads"] and all(s["text"] == "KA12BCD" for s in read)


@pytest.mark.parametrize("name", ["dayride_type1_003_t46.jpg", "nightride_type3_001_t472.jpg"])
def test_real_frames_two_plates_two_tracks(name: str) -> None:
    """A real dashcam frame (two plates, day and night) seen as the car closes in: the view
    zooms 3 % and drifts 12 px per sample. Detector + tracker: one track per plate, whole."""
    import cv2
    import numpy as np

    from tasks.plates import OnnxPlateDetector

    path = (
        Path(__file__).resolve().parents[1].parent
        / "shared"
        / "data"
        / "plates"
        / "dashcam_frames_ro"
        / "images"
        / name
    )
    if not path.exists():
        pytest.skip(f"real test data {path} is absent (../shared/data is beside the repo in CI)")
    image = np.ascontiguousarray(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[:, :, :3])
    h, w = image.shape[:2]
    detector, tracker = OnnxPlateDetector(int8=True), PlateTracker()
    per_frame = []
    for k in range(6):
        zoom, dx = 1.0 + 0.03 * k, 12 * k
        m = np.float32([[zoom, 0, (1 - zoom) * w / 2 - dx], [0, zoom, (1 - zoom) * h / 2]])
        frame = cv2.warpAffine(image, m, (w, h))
        boxes = [d.box for d in detector.detect(frame)]
        ids = list(range(100 * k, 100 * k + len(boxes)))
        per_frame.append(tracker.update(k * 0.5, boxes, ids, [look(frame, b) for b in boxes]))
    tracks = tracker.pop_finished()
    long = [t for t in tracks if len(t.members) >= 5]
    assert len(long) == 2 and len(tracks) <= 3, [len(t.members) for t in tracks]
    assert all(len(ids) == len(set(ids)) for ids in per_frame)  # never two boxes on one track


def _single_box_tracks(reading: Any, times: tuple[float, ...]) -> list[Observation]:
    """One single-box track per time, each read by `reading` (a `TrackReading`) when it ends."""
    tracker = PlateTracker()
    obs = []
    frame = np.zeros((100, 200, 3), dtype=np.uint8)
    for k, t in enumerate(times):
        tracker.cut()
        obs.append(_obs(t, box(50, 50, w=60, h=20)))
        reading.offer_later(k, frame[40:60, 20:80], frame, obs[-1].box, 0.9, 100.0)
        reading.assign([k], tracker.update(t, [obs[-1].box], [k]))
    for track in tracker.pop_finished():
        reading.finish(track, obs)
    return obs


def test_each_track_is_read_with_the_formats_of_where_the_car_was(tmp_path: Path) -> None:
    """GPS picks the region; `DASHCAM_PLATE_REGIONS` other than "all" overrides it."""
    from tasks.gps import Aligned
    from tasks.heavy import TrackReading, clip_formats, formats_lookup
    from tasks.plate_formats import FORMATS_BY_REGION, formats_for
    from tasks.plates import PlateText

    def gps_at(t: float) -> Aligned | None:  # San Francisco, then Toronto, then no fix
        if t >= 20:
            return None
        lat, lon = (37.7749, -122.4194) if t < 10 else (43.6532, -79.3832)
        return Aligned(lat, lon, 10.0, 0.0, None, 0.1, False)

    class Recorder:
        def __init__(self) -> None:
            self.formats: list[object] = []

        def read(self, crop: np.ndarray, formats: object = None) -> PlateText | None:
            self.formats.append(formats)
            return PlateText("5ABC123", 0.9, None)

    settings = Settings(data_dir=tmp_path)
    at = formats_lookup(heavy_config(settings), gps_at)
    assert at is not None
    assert at(1.0) == FORMATS_BY_REGION["us-ca"] and at(12.0) == FORMATS_BY_REGION["ca"]
    assert at(25.0) is None  # no fix: the reader's own formats
    assert formats_lookup(heavy_config(settings.model_copy(update={"plate_regions": "eu"})), gps_at) is None
    # The formats a short read must fit come from the region, else from a named setting.
    assert clip_formats(heavy_config(settings), at, [_obs(1.0, box(0, 0))]) == FORMATS_BY_REGION["us-ca"]
    assert clip_formats(heavy_config(settings), None, []) is None
    eu = settings.model_copy(update={"plate_regions": "eu"})
    assert clip_formats(heavy_config(eu), None, []) == formats_for("eu")

    reader = Recorder()
    reading = TrackReading(reader, 1, heavy_config(settings), at)  # type: ignore[arg-type]
    _single_box_tracks(reading, (1.0, 12.0))  # one track in California, one in Ontario
    assert reader.formats == [FORMATS_BY_REGION["us-ca"], FORMATS_BY_REGION["ca"]]


def test_a_track_whose_reads_change_text_splits_where_they_change() -> None:
    from tasks.grouping import split_by_reads

    obs = [_obs(0.5 * k, box(500, 400)) for k in range(10)]
    members = list(range(10))
    texts = ["KA12BCD", "KA12BCD", "KA12BC0", "KA12BCD", "WX98YZK", "WX98YZK", "WX98YZK"]
    reads = [Read(i, t, 0.9) for i, t in zip((0, 1, 2, 3, 6, 8, 9), texts, strict=True)]
    parts = split_by_reads(reads, members, obs)
    assert [[r.text for r in rs] for rs, _ in parts] == [texts[:4], texts[4:]]
    assert [ms for _, ms in parts] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]  # cut at 2.5 s
    # Reads that alternate are one plate read two ways; one odd read changes nothing.
    alternating = [Read(k, "KA12BCD" if k % 2 else "WX98YZK", 0.9) for k in range(6)]
    assert len(split_by_reads(alternating, members, obs)) == 1
    one_odd = [Read(k, "KA12BCD", 0.9) for k in range(5)] + [Read(9, "WX98YZK", 0.9)]
    assert len(split_by_reads(one_odd, members, obs)) == 1


def test_a_long_track_keeps_a_bounded_spread_of_crops() -> None:
    """A car ahead for 200 s: at most 8 candidates (each holds a frame), still spread over
    the whole track, the best of each stretch."""
    from tasks.heavy.track_reading import SPREAD_KEEP, Candidate, Spread

    spread = Spread()
    for k in range(400):
        spread.offer(Candidate(k, np.zeros(1), np.zeros(1), (k * 37 % 11) / 10, k * 0.5))
    times = sorted(c.frame_s for c in spread.bins.values())
    assert 2 <= len(times) <= SPREAD_KEEP and times[0] < 50 and times[-1] > 150


def test_a_three_character_vanity_plate_counts_only_where_the_us_has_them(tmp_path: Path) -> None:
    """`UNI` (a real US crop) is a plate read in California; in Ontario, or with no region
    known, three characters stay a fragment (the 4-character floor)."""
    from tasks.gps import Aligned
    from tasks.heavy import TrackReading, clip_formats, formats_lookup
    from tasks.heavy.clip_formats import vote_floor
    from tasks.plates import PlateText

    def gps_at(t: float) -> Aligned | None:  # Los Angeles, then Toronto
        lat, lon = (34.05, -118.24) if t < 10 else (43.6532, -79.3832)
        return Aligned(lat, lon, 10.0, 0.0, None, 0.1, False)

    class Uni:
        def read(self, crop: np.ndarray, formats: object = None) -> PlateText | None:
            return PlateText("UNI", 0.9, None)

    config = heavy_config(Settings(data_dir=tmp_path))
    at = formats_lookup(config, gps_at)
    assert vote_floor(config, clip_formats(config, at, [_obs(1.0, box(0, 0))])) == 3
    assert vote_floor(config, clip_formats(config, at, [_obs(12.0, box(0, 0))])) == 4
    assert vote_floor(config, clip_formats(config, None, [])) == 4  # no region known
    us = heavy_config(Settings(data_dir=tmp_path, plate_regions="us"))
    assert vote_floor(us, clip_formats(us, None, [])) == 3  # the setting names the US

    reading = TrackReading(Uni(), 1, config, at)  # type: ignore[arg-type]
    obs = _single_box_tracks(reading, (1.0, 12.0))  # California, then Ontario
    assert list(reading.best_crops) == [0]  # only the Californian track voted a plate
    plates = merge_tracks(reading.tracks[:1], obs, min_confidence=0.5, min_chars=3)
    assert [p.text for p in plates] == ["UNI"]


def test_a_small_box_beside_a_plate_on_its_bumper_is_a_sticker() -> None:
    """Tuning cars06: a LIQUI MOLY sticker read `LIQUI`, 51 px wide, 48 px right of
    `RK857AI`'s 182 px box in the same frame, was stored as a plate. Beside a bigger plate at
    its height it is not one; a plate of its own size beside it, a small plate inside the
    big one's box (the next car, far behind) or one seen elsewhere too all stay plates."""
    plate = [_obs(8.5 + 0.5 * k, box(1007, 665, w=182, h=41)) for k in range(3)]

    def plates_with(other: list[Observation], text: str = "LIQUI") -> list[str]:
        obs = plate + other
        reads = [([Read(j, "RK857AI", 0.95) for j in range(3)], [0, 1, 2])]
        members = list(range(3, len(obs)))
        reads.append(([Read(j, text, 0.9) for j in members], members))
        return sorted(p.text for p in merge_tracks(reads, obs, min_confidence=0.5, min_chars=4))

    assert plates_with([_obs(9.0, box(1157, 668, w=51, h=32))]) == ["RK857AI"]
    # As wide as the plate, beside it: another car's plate.
    assert plates_with([_obs(9.0, box(1350, 668, w=170, h=40))], "RK912BB") == ["RK857AI", "RK912BB"]
    # Small, inside the plate's box: the next parked car, far behind (not beside).
    assert plates_with([_obs(9.0, box(1007, 660, w=51, h=14))], "RK912BB") == ["RK857AI", "RK912BB"]
    # Small and beside it once, but also seen where no plate is: a plate.
    later = [_obs(9.0, box(1157, 668, w=51, h=32)), _obs(11.0, box(1157, 668, w=60, h=20))]
    assert plates_with(later, "RK912BB") == ["RK857AI", "RK912BB"]


def test_one_doubtful_read_of_one_unsure_box_is_not_a_plate() -> None:
    """Held-out hidden clip: a parked car's 37 px plate (`DZR2224`) boxed once at detector
    0.20 and read `DB2224` at 0.67 was stored. Seen in one frame, from an unsure box, with a
    doubtful read, it is dropped; seen twice, boxed surely or read surely, it stays."""

    def kept(times: tuple[float, ...], det: float, conf: float) -> list[str]:
        obs = [Observation(t, box(590, 408, w=37, h=16), det, "DB2224", conf) for t in times]
        members = list(range(len(obs)))
        plates = merge_tracks(
            [([Read(j, "DB2224", conf) for j in members], members)],
            obs,
            min_confidence=0.5,
            min_chars=4,
        )
        out, dropped = weak_glimpses(plates, obs, sure_confidence=0.35)
        assert len(out) + len(dropped) == len(plates) == 1
        return [p.text for p in out]

    assert kept((8.5,), det=0.20, conf=0.67) == []
    assert kept((8.5, 9.0), det=0.20, conf=0.67) == ["DB2224"]  # two frames
    assert kept((8.5,), det=0.60, conf=0.67) == ["DB2224"]  # the detector was sure
    assert kept((8.5,), det=0.20, conf=GLIMPSE_MIN_READ) == ["DB2224"]  # OCR was sure
