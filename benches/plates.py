"""Plate reading benchmark over ../shared/data/plates (real photos, crops and dashcam frames).

``python -m benches.plates`` prints one table: end-to-end exact match (detector + reader,
the annotated plate matched by IoU >= 0.3) on openalpr_eu/br, OCR exact match on the US and
Argentine crop sets, detection recall on the Romanian dashcam frames, and mean timings.
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dashcam.cli.progress import progress
from tasks.plate_formats import formats_for
from tasks.plates import (
    DEFAULT_RECOGNISERS,
    CandidateReader,
    Detection,
    OnnxPlateDetector,
    confirmed,
    crop_plate,
    to_bgr,
)
from tasks.tracking import iou

Box = tuple[float, float, float, float]

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "plates"
MATCH_IOU = 0.3  # the annotated plate vs a detection, for end-to-end reading
RECALL_IOU = 0.5

Step = Callable[[], object]  # told of every image done (the progress bar's advance)


def _nothing() -> None:
    pass


def load_image(path: Path) -> np.ndarray:
    """BGR image; IMREAD_UNCHANGED + to_bgr copes with the RGBA PNGs named .jpg."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"unreadable image {path}")
    return to_bgr(image)


PARTS = ("tuning", "held-out")


def part_of(name: str) -> str:
    """The photo's part, fixed forever by its key ("openalpr_eu/eu1.jpg"; about half each):
    rules and thresholds are chosen on `tuning`, `held-out` is only reported."""
    return PARTS[hashlib.sha1(name.encode()).digest()[0] & 1]


# Labels that are wrong, each checked by eye on the photo. Most write the letter O where the
# plate shows the digit 0: the country's format puts a digit there and the glyph is the digits'
# narrow 0 (the plate's letter O, where it has one, is wider); the last three swap, lose or
# mistype a character. Reading them right is exact, not "O = 0".
# key -> (the label as shipped, the plate's text).
LABEL_ERRATA = {
    "openalpr_eu/eu5.jpg": ("OYO9FEU", "OY09FEU"),  # GB "OY09 FEU": 09 is the age identifier
    "openalpr_eu/test_006.jpg": ("RKO99AN", "RK099AN"),  # SK "RK-099AN": LL-DDDLL
    "openalpr_eu/test_024.jpg": ("RKO26AJ", "RK026AJ"),  # SK "RK-026AJ"
    "openalpr_eu/test_033.jpg": ("RKO82AL", "RK082AL"),  # SK "RK-082AL"
    "openalpr_eu/test_051.jpg": ("RK6O5AB", "RK605AB"),  # SK "RK-605AB"
    "openalpr_eu/test_056.jpg": ("RK3OOAG", "RK300AG"),  # SK "RK-300AG"
    "openalpr_eu/test_065.jpg": ("4BO4979", "4B04979"),  # CZ "4B0 4979": Czech plates carry no O
    "openalpr_br/FZB9581.jpg": ("FZB9581", "FBZ9581"),  # BR "FBZ-9581" (BA-SIMOES FILHO)
    "openalpr_us_crops/ga1260.png": ("BJL833", "BJL3833"),  # GA "BJL 3833", the peach between
    "openalpr_us_crops/id1645.png": ("I64081", "164081"),  # ID dealer "DLR 1640-81": a 1, no I
}


def label_text(key: str, label: str) -> str:
    """The plate's text for a label: the label, or its erratum."""
    shipped, fixed = LABEL_ERRATA.get(key, (label, label))
    if shipped != label:
        raise ValueError(f"{key}: the label reads {label!r}, the erratum expects {shipped!r}; "
                         "the data changed: check the erratum by eye again")  # fmt: skip
    return fixed


def o_is_0(text: str) -> str:
    # Some labels write the letter O where the plate shows the digit 0 (and US plates use
    # one glyph for both): this comparison forgives exactly that.
    return text.replace("O", "0")


@dataclass
class Row:
    name: str
    total: int = 0
    exact: int = 0
    exact_o0: int = 0
    det_ms: list[float] = field(default_factory=list)
    ocr_ms: list[float] = field(default_factory=list)
    false_boxes: int | None = None  # detection rows: kept boxes on no annotated plate
    parts: dict[str, list[int]] = field(default_factory=dict)  # part -> [total, exact, O=0]

    def count(self, key: str, text: str, truth: str) -> None:
        """One plate read as `text`, in the totals and in its part's."""
        hit, hit_o0 = text == truth, o_is_0(text) == o_is_0(truth)
        self.total += 1
        self.exact += hit
        self.exact_o0 += hit_o0
        part = self.parts.setdefault(part_of(key), [0, 0, 0])
        part[0] += 1
        part[1] += hit
        part[2] += hit_o0

    def cells(self) -> list[str]:
        def pct(n: int) -> str:
            return f"{n}/{self.total} ({100 * n / self.total:.1f}%)" if self.total else "-"

        def mean(xs: list[float]) -> str:
            return f"{sum(xs) / len(xs):.0f}" if xs else "-"

        extra = "" if self.false_boxes is None else f"{self.false_boxes} false boxes"
        extra += "; ".join(f"{p} {self.parts[p][1]}/{self.parts[p][0]} ({self.parts[p][2]} O=0)"
                           for p in PARTS if p in self.parts)  # fmt: skip
        return [self.name, pct(self.exact), pct(self.exact_o0), mean(self.det_ms),
                mean(self.ocr_ms), extra]  # fmt: skip


def _timed_detect(detector: OnnxPlateDetector, image: np.ndarray, row: Row) -> list[Detection]:
    start = time.perf_counter()
    dets = detector.detect(image)
    row.det_ms.append((time.perf_counter() - start) * 1000)
    return dets


def _timed_read(reader: CandidateReader, crop: np.ndarray, row: Row) -> str:
    start = time.perf_counter()
    read = reader.read(crop)
    row.ocr_ms.append((time.perf_counter() - start) * 1000)
    return read.text if read else ""


def _confirmed_boxes(
    detector: OnnxPlateDetector, reader: CandidateReader, image: np.ndarray, sure: float, row: Row
) -> list[tuple[Detection, str]]:
    """What the pipeline keeps: boxes the detector is sure of, and proposals whose text fits a
    plate format (`tasks.plates.confirmed`), each with its read."""
    out = []
    for det in _timed_detect(detector, image, row):
        start = time.perf_counter()
        read = reader.read(crop_plate(image, det.box))
        row.ocr_ms.append((time.perf_counter() - start) * 1000)
        if confirmed(det.confidence, read, sure):
            out.append((det, read.text if read else ""))
    return out


def bench_openalpr(
    folder: str,
    region: str,
    detector: OnnxPlateDetector,
    sure: float,
    recognisers: Sequence[str] = DEFAULT_RECOGNISERS,
    step: Step = _nothing,
) -> Row:
    reader = CandidateReader(formats=formats_for(region), recognisers=recognisers)
    row = Row(f"{folder} (end to end)")
    for label in sorted((DATA / folder).glob("*.txt")):
        step()
        fields = label.read_text().split()
        name, (x, y, w, h) = fields[0], map(float, fields[1:5])
        truth = label_text(f"{folder}/{name}", fields[5])
        gt = (x, y, x + w, y + h)
        image = load_image(DATA / folder / name)
        found = [(d, t) for d, t in _confirmed_boxes(detector, reader, image, sure, row)
                 if iou(d.box, gt) >= MATCH_IOU]  # fmt: skip
        text = max(found, key=lambda f: iou(f[0].box, gt))[1] if found else ""
        row.count(f"{folder}/{name}", text, truth)
    return row


def bench_crops(
    name: str,
    items: list[tuple[Path, str]],
    region: str,
    recognisers: Sequence[str] = DEFAULT_RECOGNISERS,
    step: Step = _nothing,
) -> Row:
    # pad 0: the crops are tight
    reader = CandidateReader(formats=formats_for(region), pad=0.0, recognisers=recognisers)
    row = Row(f"{name} (OCR only)")
    for path, truth in items:
        step()
        text = _timed_read(reader, load_image(path), row)
        row.count(f"{path.parents[1].name}/{path.name}", text, truth)
    return row


def us_crops(data: Path = DATA) -> list[tuple[str, Path, str, str]]:
    """(key, path, state, text) of the tight US crops, errata applied."""
    folder = data / "openalpr_us_crops"
    rows = csv.reader((folder / "groundtruth.csv").read_text().splitlines())
    return [(key, folder / "images" / r[0], r[1], label_text(key, r[2]))
            for r in rows if len(r) >= 3 for key in [f"openalpr_us_crops/{r[0]}"]]  # fmt: skip


def us_items() -> list[tuple[Path, str]]:
    return [(path, text) for _key, path, _state, text in us_crops()]


def ar_items() -> list[tuple[Path, str]]:
    folder = DATA / "fastplateocr_ar_crops"
    rows = list(csv.reader((folder / "annotations.csv").read_text().splitlines()))[1:]
    unique = {Path(r[0]).name: r[1] for r in rows if len(r) >= 2}  # some rows repeat
    return [(folder / "imgs" / n, t) for n, t in sorted(unique.items())]


def recall_boxes() -> dict[str, list[Box]]:
    """The annotated plates of each Romanian dashcam frame, by image name."""
    folder = DATA / "dashcam_frames_ro"
    # labels_converted.csv, not the XML: the XML <filename> names the source video frame.
    boxes_by_image: dict[str, list[Box]] = {}
    for r in csv.DictReader((folder / "labels_converted.csv").read_text().splitlines()):
        box = (float(r["xmin"]), float(r["ymin"]), float(r["xmax"]), float(r["ymax"]))
        boxes_by_image.setdefault(r["image"], []).append(box)
    return boxes_by_image


def bench_recall(
    detector: OnnxPlateDetector,
    sure: float,
    recognisers: Sequence[str] = DEFAULT_RECOGNISERS,
    step: Step = _nothing,
) -> tuple[Row, Row]:
    """Recall of the detector alone (boxes scored >= ``sure``) and of what the pipeline keeps
    (plus the lower-scored proposals that their text confirms), with false boxes counted."""
    folder = DATA / "dashcam_frames_ro"
    alone = Row(f"dashcam_frames_ro (detector >= {sure:g})")
    kept = Row("dashcam_frames_ro (+ proposals text confirms)")
    reader = CandidateReader(formats=formats_for("ro"), recognisers=recognisers)
    for name, boxes in sorted(recall_boxes().items()):
        step()
        image = load_image(folder / "images" / name)
        dets = [d for d, _ in _confirmed_boxes(detector, reader, image, sure, kept)]
        alone.det_ms.append(kept.det_ms[-1])
        for row, found in ((alone, [d for d in dets if d.confidence >= sure]), (kept, dets)):
            for gt in boxes:
                row.total += 1
                row.exact += any(iou(d.box, gt) >= RECALL_IOU for d in found)
            row.false_boxes = (row.false_boxes or 0) + sum(
                all(iou(d.box, gt) < RECALL_IOU for gt in boxes) for d in found
            )
    for row in (alone, kept):
        row.exact_o0 = row.exact
    return alone, kept


def bench_vehicles(step: Step = _nothing) -> None:
    """How often the annotated plate sits on a detected vehicle, and what it costs."""
    from collections import Counter

    from tasks.vehicles import OnnxVehicleDetector, vehicle_for

    try:
        detector = OnnxVehicleDetector()
    except FileNotFoundError as exc:
        print(f"vehicles: {exc}")
        return
    for folder in ("openalpr_eu", "openalpr_br"):
        kinds: Counter[str] = Counter()
        total, spent = 0, 0.0
        for label in sorted((DATA / folder).glob("*.txt")):
            step()
            fields = label.read_text().split()
            x, y, w, h = map(float, fields[1:5])
            image = load_image(DATA / folder / fields[0])
            start = time.perf_counter()
            vehicles = detector.detect(image)
            spent += time.perf_counter() - start
            total += 1
            v = vehicle_for((x, y, x + w, y + h), vehicles)
            kinds[v.kind if v else "none"] += 1
        found = total - kinds["none"]
        print(
            f"vehicles {folder}: plate on a detected vehicle {found}/{total} ({100 * found / max(1, total):.1f} %); "
            f"{', '.join(f'{k} {n}' for k, n in kinds.most_common())}; {1000 * spent / max(1, total):.0f} ms/img"
        )


def bench_plates() -> None:
    if not DATA.is_dir():
        print(f"plate data {DATA} is absent: nothing to benchmark")
        return
    from dashcam.settings import Settings

    # The pipeline's detector: its threshold, and int8 where the settings say so (default).
    settings = Settings()
    sure = settings.plate_min_confidence
    proposal = min(settings.plate_proposal_confidence, sure)
    detector = OnnxPlateDetector(
        conf_threshold=proposal, int8=settings.plate_detector_int8, zoom=settings.plate_zoom
    )
    print(
        f"detector: {'int8' if detector.int8 else 'float'}, input {'rectangular' if detector.rect else 'square'}, "
        f"plate from {sure:g}, text-confirmed proposals from {proposal:g}; "
        f"OCR {' + '.join(settings.ocr_recognisers)}"
    )
    header = ["set", "exact (recall for ro)", "exact O=0", "det ms/img", "OCR ms/box", ""]
    widths = [46, 22, 16, 11, 11, 0]

    def show(cells: list[str]) -> None:  # row by row: the whole run takes minutes
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)), flush=True)

    show(header)
    recognisers = settings.ocr_recognisers
    us, ar = us_items(), ar_items()
    labels = {f: len(list((DATA / f).glob("*.txt"))) for f in ("openalpr_br", "openalpr_eu")}
    # Images in all: each set's, then the vehicle detector's pass over both openalpr sets.
    total = len(recall_boxes()) + 2 * sum(labels.values()) + len(us) + len(ar)
    with progress(total, "bench plates") as bar:
        bar.advance(0, note="dashcam_frames_ro")
        for row in bench_recall(detector, sure, recognisers, bar.advance):
            show(row.cells())
        for folder, region in (("openalpr_br", "br"), ("openalpr_eu", "eu")):
            bar.advance(0, note=folder)
            show(bench_openalpr(folder, region, detector, sure, recognisers, bar.advance).cells())
        for name, items, region in (
            ("openalpr_us_crops", us, "us"),
            ("fastplateocr_ar_crops", ar, "ar"),
        ):
            bar.advance(0, note=name)
            show(bench_crops(name, items, region, recognisers, bar.advance).cells())
        bar.advance(0, note="vehicles")
        bench_vehicles(bar.advance)
        bar.update(total=bar.done)  # the vehicle pass is skipped without its model


if __name__ == "__main__":
    bench_plates()
