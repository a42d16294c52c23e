"""Plate formats, the candidate reader on real plates, and ``read-plates`` output.

Real data lives in ../shared/data (never copied into the repo); those tests skip when absent.
Thresholds are set well below the measured rates (benches.plates) on purpose: they
guard against regressions, not against one hard image.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from dashcam.cli.read_plates import read_plates_cli
from tasks.plate_formats import PlateFormat, formats_for, repair, repair_detail
from tasks.plates import CandidateReader, OnnxPlateDetector, crop_plate, default_reader

PLATES_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "plates"


def plates_data(rel: str) -> Path:
    path = PLATES_DATA / rel
    if not path.exists():
        pytest.skip(f"real plate data {path} is absent (../shared/data beside the repo)")
    return path


# -- formats ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "region", "expected", "fmt"),
    [
        ("RKO99AN", "eu", "RK099AN", "it-hr-fr"),  # O where a digit must be
        ("0Y09FEU", "eu", "OY09FEU", "uk"),  # 0 where a letter must be
        ("GBOY09FEU", "eu", "OY09FEU", "uk"),  # country band dropped
        ("AYO9O34", "br", "AYO9O34", "br-mercosur"),  # fits Mercosur as read: untouched
        ("AYO98B4", "br", "AYO9884", "br-old"),  # 1 swap beats Mercosur's 2
        ("A8C1234", "br", "ABC1234", "br-old"),
        ("AD0S4JI", "ar", "AD054JI", "ar-mercosur"),
        ("B123ABC", "ro", "B123ABC", "ro-bucharest"),
        ("CJ2ZABC", "ro", "CJ22ABC", "ro"),
        # A sticker or seal read as a character is dropped where the format has a seal place.
        ("1T483213", "eu", "1T43213", "cz"),  # the Czech inspection sticker read as 8
        ("1T43213", "eu", "1T43213", "cz"),  # no sticker read: fits as it is
        ("M8AB1234", "eu", "MAB1234", "de"),  # German seals read as 8 between the groups
        # ...but a seal is round: a W there is the plate's letter (WOB-VWMK4, a show plate).
        ("WOBVWMK4", "eu", "WOBVWMK4", "eu-generic"),
        ("ASNO1074", "us", "ASN1074", "us-abc1234"),  # Georgia county decal read as O
    ],
)
def test_repair_swaps_confusables_only_where_the_format_demands(
    text: str, region: str, expected: str, fmt: str
) -> None:
    fixed, matched = repair(text, formats_for(region))
    assert (fixed, matched.name if matched else None) == (expected, fmt)


def test_repair_keeps_unfit_reads_and_marks_them() -> None:
    formats = formats_for("br")
    assert repair("HELLO", formats) == ("HELLO", None)  # wrong length
    assert repair("ABCX234", formats) == ("ABCX234", None)  # X is no digit look-alike
    assert repair("", formats) == ("", None)


def test_repair_never_touches_non_confusables_or_generic_formats() -> None:
    assert repair("6ABC123", formats_for("us"))[0] == "6ABC123"
    detail = repair_detail("abc-1234", formats_for("br"))
    assert (detail.text, detail.swaps, detail.dropped) == ("ABC1234", 0, 0)


def test_pattern_language() -> None:
    fmt = PlateFormat("x", "L{1,2} D{2}")
    assert fmt.layouts == ("LDD", "LLDD")
    assert not PlateFormat("any", "A{2,3}").specific
    with pytest.raises(ValueError):
        PlateFormat("bad", "LX")
    with pytest.raises(ValueError):
        formats_for("atlantis")
    # A seal place: read as one character or as nothing, never at either end.
    assert PlateFormat("s", "L ? D").layouts == ("LD", "L?D")
    assert PlateFormat("e", "? LD ?").layouts == ("LD",)
    assert not PlateFormat("a", "A{1,2} ? A").specific
    with pytest.raises(ValueError, match="no characters"):
        PlateFormat("only", "?")


def test_a_format_without_repair_only_recognises() -> None:
    # An Idaho plate must not be "repaired" into the common LLL DDDD: 8 -> B would be a guess.
    assert repair("8BL8976", formats_for("us")) == ("8BL8976", formats_for("us")[-1])
    assert repair("ABC1234", formats_for("us"))[1] == formats_for("us")[0]
    assert repair("ABC12S4", formats_for("us"))[0] == "ABC12S4"  # no swap where it would fit


# -- reader on real data -------------------------------------------------------------------
@pytest.fixture(scope="module")
def detector() -> OnnxPlateDetector:
    return OnnxPlateDetector()


def test_reader_on_eu_photos(detector: OnnxPlateDetector) -> None:
    folder = plates_data("openalpr_eu")
    reader = CandidateReader(formats=formats_for("eu"))
    labels = sorted(folder.glob("*.txt"))[::5][:20]  # spread over the set, not hand-picked
    hits = 0
    for label in labels:
        name, x, y, w, h, truth = label.read_text().split()[:6]
        gt = (float(x), float(y), float(x) + float(w), float(y) + float(h))
        image = cv2.imread(str(folder / name))
        dets = [d for d in detector.detect(image) if _iou(d.box, gt) >= 0.3]
        if dets:
            read = reader.read(crop_plate(image, dets[0].box))
            hits += read is not None and read.text.replace("O", "0") == truth.replace("O", "0")
    assert hits >= 12, f"{hits}/{len(labels)} eu plates read exactly"  # measured ~80%


def test_reader_on_us_crops() -> None:
    folder = plates_data("openalpr_us_crops")
    rows = list(csv.reader((folder / "groundtruth.csv").read_text().splitlines()))[::12][:20]
    reader = CandidateReader(formats=formats_for("us"), pad=0.0)
    hits = 0
    for name, _state, truth in rows:
        read = reader.read(cv2.imread(str(folder / "images" / name)))
        hits += read is not None and read.text.replace("O", "0") == truth.replace("O", "0")
    assert hits >= 13, f"{hits}/{len(rows)} US crops read exactly"  # measured ~85%


class _Counted:
    """A real ONNX session that counts its runs."""

    def __init__(self, session: object) -> None:
        self.session, self.runs = session, 0

    def run(self, *args: object) -> object:
        self.runs += 1
        return self.session.run(*args)  # type: ignore[attr-defined]


def test_the_second_recogniser_runs_only_where_the_first_is_unsure() -> None:
    """A crop every sub-crop reads the same, surely and in a format, costs one model run; any
    doubt brings the second recogniser in, and the read is the one both would give."""
    from dataclasses import replace

    folder = plates_data("openalpr_us_crops")
    rows = list(csv.reader((folder / "groundtruth.csv").read_text().splitlines()))[::25][:10]
    reader = CandidateReader(formats=formats_for("us"), pad=0.0)
    pooled = CandidateReader(formats=formats_for("us"), pad=0.0, settle=False)
    counted = _Counted(reader._recognisers[1].session)
    reader._recognisers[1] = replace(reader._recognisers[1], session=counted)
    skipped = 0
    for name, _state, _truth in rows:
        image = cv2.imread(str(folder / "images" / name))
        before = counted.runs
        read, both = reader.read(image), pooled.read(image)
        skipped += counted.runs == before
        assert (read and read.text) == (both and both.text), name
    assert 0 < skipped < len(rows), f"the second recogniser was skipped on {skipped} crops"
    noise = np.random.default_rng(0).integers(0, 255, (40, 130, 3), dtype=np.uint8)
    before = counted.runs
    reader.read(noise)
    assert counted.runs == before + 1  # nothing sure in noise: both recognisers read it


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union if union > 0 else 0.0


def test_recognisers_come_from_packages_and_bad_names_are_clear_errors() -> None:
    from tasks.plates import DEFAULT_RECOGNISERS, load_recogniser
    from tasks.plates.recognisers import package_file

    for name in DEFAULT_RECOGNISERS:  # both ship in their wheels: nothing is downloaded
        rec = load_recogniser(name)
        assert len(rec.alnum_cols) >= 36 and set(rec.alnum_group.tolist()) == set(range(36))
    with pytest.raises(ValueError, match="unknown OCR recogniser"):
        load_recogniser("tesseract")
    with pytest.raises(FileNotFoundError, match="DASHCAM_OCR_RECOGNISERS"):
        package_file("no_such_package_here", "models/rec.onnx")
    with pytest.raises(ValueError, match="at least one"):
        CandidateReader(recognisers=())


def test_one_recogniser_alone_still_reads(tmp_path: Path) -> None:
    from tasks.synthetic import render_plate_frames

    frame = next(iter(render_plate_frames("KA12BCD", seconds=1.0, fps=1, seed=0)))
    [det] = OnnxPlateDetector().detect(frame)[:1]
    for name in ("ppocrv4", "ppocrv6-small"):
        read = CandidateReader(recognisers=[name]).read(crop_plate(frame, det.box))
        assert read is not None and read.text == "KA12BCD", name


def test_reader_handles_degenerate_crops() -> None:
    reader = default_reader()
    assert reader.read(np.zeros((0, 0, 3), np.uint8)) is None
    assert reader.read(np.zeros((2, 50, 3), np.uint8)) is None
    reader.read(np.full((40, 120), 255, np.uint8))  # grey input: must not raise


# -- read-plates CLI -----------------------------------------------------------------------
def test_read_plates_cli_output(tmp_path: Path, detector: OnnxPlateDetector) -> None:
    frames = plates_data("dashcam_frames_ro/images")
    image = sorted(frames.glob("*.jpg"))[0]  # really an RGBA PNG
    junk = tmp_path / "notes.jpg"
    junk.write_text("not an image")
    out = io.StringIO()
    rc = read_plates_cli([image, junk], out=out, detector=detector)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rc == 0 and len(lines) == 2
    good, bad = lines
    assert good["image"] == str(image) and "error" not in good
    assert good["plates"], "expected at least one plate in a dashcam frame"
    h, w = cv2.imread(str(image)).shape[:2]
    for plate in good["plates"]:
        assert set(plate) == {"text", "confidence", "box", "vehicle"}
        assert plate["vehicle"] is None and 0 <= plate["confidence"] <= 1
        x1, y1, x2, y2 = plate["box"]
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
    confidences = [p["confidence"] for p in good["plates"]]
    assert confidences == sorted(confidences, reverse=True)
    assert bad["image"] == str(junk) and bad["error"]


def test_read_plates_cli_fails_only_when_nothing_was_read(
    tmp_path: Path, detector: OnnxPlateDetector
) -> None:
    junk = tmp_path / "a.png"
    junk.write_bytes(b"\x89PNG broken")
    out = io.StringIO()
    assert read_plates_cli([junk, tmp_path / "missing.jpg"], out=out, detector=detector) == 1
    assert all("error" in json.loads(line) for line in out.getvalue().splitlines())
