"""`dashcam bench video`: plates read in video, the accuracy figure that counts.

Runs the heavy stage's own code (`tasks.heavy.run_heavy`: one ffmpeg pass, gating, detector,
tracker, OCR, voting, archival copy) over
- clips composed from the real photos in ../shared/data (benches/compose.py), in two parts:
  `tuning` (rules and thresholds are chosen on it) and `held-out` (only reported);
- the real videos in ../shared/data/videos/real_plates with their expected.json (`real`).

Per clip and per part it prints the plates in the ground truth, those read exactly (and with
O = 0: US plates and some eu labels write one glyph for both), the extra plates (stored plates
that match no plate of the clip, and second copies of one that does) and the seconds spent.

`--wide` runs every photo of each part instead (`compose.wide_scenes`: 8 cars passed one after
another per clip, about 400 plates in all) and reads each photo as a still too, with the same
models, reader and formats: how many plates the video path loses that the still reader gets
(and the other way round), which is how the video path failed on material we do not have.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benches.compose import DATA, Clip, rendered, scenes, wide_scenes
from benches.plates import PARTS, o_is_0
from dashcam.cli.progress import progress
from dashcam.settings import Settings

REAL = DATA / "videos" / "real_plates"
# Plates in the real videos that expected.json does not list, checked by eye on the frame:
# reading them is right, so they count neither as read nor as extra (printed apart).
UNLISTED = {
    # A red Toyota crosses at 6-7 s; its plate reads 34A-231.26 at 6.5 s (1280x720 frame).
    "parkpow_cars.mp4": ["34A23126"],
}
# Parked cars behind the labelled one (openalpr_br photos of a garage, an openalpr_eu car park),
# each plate checked by eye on the photo. The composer's window around the labelled plate
# shows them too; a read of one (O = 0 forgiven: the US clips read with US formats) is true,
# so not an extra. A misread of one still is. Keyed by the host photo (`Photo.host`: US crops
# are pasted on these).
BACKGROUND_PLATES = {
    "openalpr_br/NZM5430.jpg": ["PJO5897"],  # left edge, ~100 px wide
    "openalpr_br/JSG9648.jpg": ["DZR2224"],  # a white car's front, left, ~35 px
    "openalpr_br/JOG9221.jpg": ["PYA2979"],
    "openalpr_br/JSQ1413.jpg": ["PJT2809"],
    "openalpr_eu/test_082.jpg": ["RK641AL"],  # a white car's rear, top right, ~50 px in the photo
}


def background_plates(clip: Clip) -> list[str]:
    return [t for v in clip.views for t in BACKGROUND_PLATES.get(v.photo.host, [])]


@dataclass
class Outcome:
    part: str
    clip: str
    truth: list[str]
    read: list[str]  # the stored plates' texts
    seconds: float
    error: str | None = None
    exact: int = 0
    exact_o0: int = 0
    missed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)  # true plates the ground truth lacks
    found: list[bool] = field(default_factory=list)  # per true plate: read (O = 0 forgiven)
    still: list[str | None] | None = None  # per true plate: the still reader's text (--wide)
    known: list[str] = field(default_factory=list)  # plates in view the labels lack (by eye)

    def still_read(self) -> list[bool]:
        """Per true plate: whether the still reader read it (O = 0 forgiven)."""
        return [s is not None and o_is_0(s) == o_is_0(t)
                for t, s in zip(self.truth, self.still or [], strict=True)]  # fmt: skip

    def score(self) -> Outcome:
        """Each true plate matches at most one stored plate; every other stored plate is extra.
        Exact matches are taken first, so an O = 0 match never takes another plate's read."""
        left = list(self.read)
        exact = [False] * len(self.truth)
        for k, plate in enumerate(self.truth):
            if plate in left:
                left.remove(plate)
                exact[k] = True
        self.exact = sum(exact)
        self.found = list(exact)
        for k, plate in enumerate(self.truth):
            if exact[k]:
                continue
            near = next((r for r in left if o_is_0(r) == o_is_0(plate)), None)
            if near is not None:
                left.remove(near)
                self.found[k] = True
            else:
                self.missed.append(plate)
        self.exact_o0 = sum(self.found)
        known = {o_is_0(k) for k in self.known}
        self.unlisted = [r for r in left if o_is_0(r) in known]
        self.extra = [r for r in left if o_is_0(r) not in known]
        return self


def real_clips() -> list[tuple[Path, list[str]]]:
    expected = json.loads((REAL / "expected.json").read_text())
    return [(REAL / name, [p["text"] for p in e["plates"]]) for name, e in expected.items()]


def run_clip(
    base: Settings, src: Path, truth: list[str], part: str, work: Path, known: list[str]
) -> Outcome:
    from flows.config import heavy_config
    from tasks.heavy import run_heavy

    settings = base.model_copy(update={"raw_root": src.parent, "work_root": work})
    video_id = src.stem
    t0 = time.perf_counter()
    result = run_heavy(heavy_config(settings), video_id, src.name)
    seconds = time.perf_counter() - t0
    detections = work / video_id / "detections.json"
    read = []
    if detections.exists():
        read = [p["text"] for p in json.loads(detections.read_text())["plates"]]
    return Outcome(part, src.name, truth, read, seconds, result.error, known=known).score()


def still_reads(base: Settings, clip: Clip) -> list[str | None]:
    """Each view's photo read as a still, as `dashcam read-plates` reads it (the heavy stage's
    models, reader, thresholds and formats): the text of the box on the plate, or None."""
    from benches.plates import MATCH_IOU
    from flows.config import heavy_config
    from tasks.heavy import models_for
    from tasks.plates import read_plates
    from tasks.tracking import iou

    detector, reader = models_for(heavy_config(base))
    out: list[str | None] = []
    for v in clip.views:
        gt = v.photo.plate_box
        found = [(iou(d.box, gt), t.text)
                 for d, t in read_plates(v.photo.image(), detector, reader,
                                         base.plate_min_confidence)
                 if t is not None and iou(d.box, gt) >= MATCH_IOU]  # fmt: skip
        out.append(max(found)[1] if found else None)
    return out


def still_vs_video(outcomes: list[Outcome]) -> dict[str, int]:
    """Plates read (O = 0 forgiven) by each path on the same photos."""
    pairs = [(s, f) for o in outcomes if o.still is not None
             for s, f in zip(o.still_read(), o.found, strict=True)]  # fmt: skip
    return {
        "plates": len(pairs),
        "still": sum(s for s, _ in pairs),
        "video": sum(v for _, v in pairs),
        "both": sum(s and v for s, v in pairs),
        "still_only": sum(s and not v for s, v in pairs),
        "video_only": sum(v and not s for s, v in pairs),
    }


def bench_video(
    parts: tuple[str, ...] = (*PARTS, "real"),
    cache: Path | None = None,
    keep: Path | None = None,
    only: str | None = None,
    wide: bool = False,
) -> list[Outcome]:
    if not DATA.is_dir():
        print(f"real data {DATA} is absent: nothing to benchmark")
        return []
    base = Settings()
    cache = cache or Path.home() / ".cache" / "dashcam" / "bench_video"
    work = Path(tempfile.mkdtemp(prefix="bench-video-")) if keep is None else keep
    work.mkdir(parents=True, exist_ok=True)
    print(f"regions {base.plate_regions}; OCR {' + '.join(base.ocr_recognisers)}; "
          f"sampling every {base.sample_every_s:g} s; clips cached in {cache}")  # fmt: skip
    widths = [9, 26, 7, 7, 7, 6, 8, 0]

    def show(cells: list[object]) -> None:
        print("  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)), flush=True)

    # Every part's clips first (composing waits for the loop): the progress bar's total.
    plan: dict[str, list[tuple[Path | Clip, list[str]]]] = {}
    for part in parts:
        if part == "real":
            plan[part] = [(src, truth) for src, truth in real_clips()
                          if not only or only in src.name]  # fmt: skip
        else:
            plan[part] = [(clip, clip.plates) for clip in (wide_scenes if wide else scenes)(part)
                          if not only or only in clip.name]  # fmt: skip
    out: list[Outcome] = []
    try:
        show(["part", "clip", "plates", "exact", "O=0", "extra", "seconds", "missed / extra"])
        with progress(sum(map(len, plan.values())), "bench video") as bar:
            for part, jobs in plan.items():
                for job, truth in jobs:
                    bar.advance(0, note=f"{part} {job.name}")
                    src = rendered(job, cache) if isinstance(job, Clip) else job
                    known = (background_plates(job) if isinstance(job, Clip)
                             else UNLISTED.get(src.name, []))  # fmt: skip
                    o = run_clip(base, src, truth, part, work, known)
                    if wide and isinstance(job, Clip):
                        o.still = still_reads(base, job)
                    out.append(o)
                    note = f"missed {o.missed} extra {o.extra}" if o.missed or o.extra else ""
                    if o.still is not None:
                        still_ok = o.still_read()
                        lost = [t for t, s, f in zip(o.truth, still_ok, o.found, strict=True)
                                if s and not f]  # fmt: skip
                        note += f" still {sum(still_ok)}/{len(o.truth)}"
                        note += f" video lost {lost}" if lost else ""
                    if o.unlisted:
                        note += f" (also read, true but not in the labels: {o.unlisted})"
                    if o.error:
                        note = f"FAILED: {o.error}"
                    show([part, src.name[:26], len(o.truth), o.exact, o.exact_o0, len(o.extra),
                          f"{o.seconds:.1f}", note])  # fmt: skip
                    bar.advance()
                mine = [o for o in out if o.part == part]
                if mine:
                    show([part, "TOTAL", sum(len(o.truth) for o in mine), sum(o.exact for o in mine),
                          sum(o.exact_o0 for o in mine), sum(len(o.extra) for o in mine),
                          f"{sum(o.seconds for o in mine):.1f}",
                          f"{sum(o.error is not None for o in mine)} failed"])  # fmt: skip
                    if wide and part != "real":
                        c = still_vs_video(mine)
                        print(f"{part}: of {c['plates']} plates (O = 0 forgiven) the still reader "
                              f"reads {c['still']}, the video path {c['video']}; both {c['both']}, "
                              f"only as stills {c['still_only']}, only in video {c['video_only']}",
                              flush=True)  # fmt: skip
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return out
