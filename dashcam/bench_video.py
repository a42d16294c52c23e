"""`dashcam bench video`: plates read in video, the accuracy figure that counts.

Runs the heavy stage's own code (`tasks.heavy.run_heavy`: one ffmpeg pass, gating, detector,
tracker, OCR, voting, archival copy) over
- clips composed from the real photos in ../shared/data (dashcam/compose.py), in two parts:
  `tuning` (rules and thresholds are chosen on it) and `held-out` (only reported);
- the real videos in ../shared/data/videos/real_plates with their expected.json (`real`).

Per clip and per part it prints the plates in the ground truth, those read exactly (and with
O = 0: US plates and some eu labels write one glyph for both), the extra plates (stored plates
that match no plate of the clip, and second copies of one that does) and the seconds spent.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from dashcam.bench_plates import o_is_0
from dashcam.compose import DATA, PARTS, rendered, scenes
from dashcam.settings import Settings

REAL = DATA / "videos" / "real_plates"
# Plates in the real videos that expected.json does not list, checked by eye on the frame:
# reading them is right, so they count neither as read nor as extra (printed apart).
UNLISTED = {
    # A red Toyota crosses at 6-7 s; its plate reads 34A-231.26 at 6.5 s (1280x720 frame).
    "parkpow_cars.mp4": ["34A23126"],
}


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

    def score(self) -> Outcome:
        """Each true plate matches at most one stored plate; every other stored plate is extra."""
        left = list(self.read)
        for plate in self.truth:
            if plate in left:
                left.remove(plate)
                self.exact += 1
                self.exact_o0 += 1
                continue
            near = next((r for r in left if o_is_0(r) == o_is_0(plate)), None)
            if near is not None:
                left.remove(near)
                self.exact_o0 += 1
            else:
                self.missed.append(plate)
        known = UNLISTED.get(self.clip, []) if self.part == "real" else []
        self.unlisted = [r for r in left if r in known]
        self.extra = [r for r in left if r not in known]
        return self


def real_clips() -> list[tuple[Path, list[str]]]:
    expected = json.loads((REAL / "expected.json").read_text())
    return [(REAL / name, [p["text"] for p in e["plates"]]) for name, e in expected.items()]


def run_clip(base: Settings, src: Path, truth: list[str], part: str, work: Path) -> Outcome:
    from tasks.heavy import run_heavy

    settings = base.model_copy(update={"raw_root": src.parent, "work_root": work})
    video_id = src.stem
    t0 = time.perf_counter()
    result = run_heavy(settings, video_id, src.name)
    seconds = time.perf_counter() - t0
    detections = work / video_id / "detections.json"
    read = []
    if detections.exists():
        read = [p["text"] for p in json.loads(detections.read_text())["plates"]]
    return Outcome(part, src.name, truth, read, seconds, result.error).score()


def bench_video(
    parts: tuple[str, ...] = (*PARTS, "real"),
    cache: Path | None = None,
    keep: Path | None = None,
    only: str | None = None,
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

    out: list[Outcome] = []
    try:
        show(["part", "clip", "plates", "exact", "O=0", "extra", "seconds", "missed / extra"])
        for part in parts:
            jobs: list[tuple[Path, list[str]]] = []
            if part == "real":
                jobs = real_clips()
            else:
                for clip in scenes(part):
                    jobs.append((rendered(clip, cache), clip.plates))
            for src, truth in jobs:
                if only and only not in src.name:
                    continue
                o = run_clip(base, src, truth, part, work)
                out.append(o)
                note = f"missed {o.missed} extra {o.extra}" if o.missed or o.extra else ""
                if o.unlisted:
                    note += f" (also read, true but not in expected.json: {o.unlisted})"
                if o.error:
                    note = f"FAILED: {o.error}"
                show([part, src.name[:26], len(o.truth), o.exact, o.exact_o0, len(o.extra),
                      f"{o.seconds:.1f}", note])  # fmt: skip
            mine = [o for o in out if o.part == part]
            if mine:
                show([part, "TOTAL", sum(len(o.truth) for o in mine), sum(o.exact for o in mine),
                      sum(o.exact_o0 for o in mine), sum(len(o.extra) for o in mine),
                      f"{sum(o.seconds for o in mine):.1f}",
                      f"{sum(o.error is not None for o in mine)} failed"])  # fmt: skip
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return out
