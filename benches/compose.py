"""Video clips composed from the real plate photos in ../shared/data, for `dashcam bench video`.

Why composed clips: the real photos carry real plates (typefaces, wear, dirt, frames, country
bands) with ground truth, but video reading fails in ways stills never show: plates that
follow each other at the same place in the frame, several plates at once, a plate hidden and
found again, night and motion blur. Each scene zooms a window of a photo around its annotated
plate so the plate grows as if the car were approached, rendered at 1080p30 and encoded with
the real ffmpeg/libx264.

Only a window around the annotated plate is shown (the photos' other plates are not
annotated, and would count as extra plates). US plates exist only as tight crops: a US scene
pastes a crop over the plate of a Brazilian or European car photo.

Every photo belongs to one part, `tuning` or `held-out`, by a hash of its name: thresholds and
rules are chosen on the tuning part only, and the bench reports both.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from benches.plates import label_text, load_image, part_of, us_crops
from tasks.synthetic import add_novatek_gps, synthetic_track

T = TypeVar("T")

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
W, H, FPS = 1920, 1080, 30
# The US clips are driven in Los Angeles: US plates are seen in the US, and a US dashcam
# writes GPS. The other clips mix plates of many countries, so they carry no GPS and are
# read with the setting's formats (every region's).
US_PLACE = (34.0522, -118.2437)
CLIP_START_UTC = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)  # the GPS clips' clock (UTC)
COMPOSER_VERSION = 2  # bump when scenes change: cached clips are keyed by it

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Photo:
    key: str  # "openalpr_eu/eu1.jpg", or "openalpr_us_crops/ak1165.png@openalpr_br/x.jpg"
    path: Path
    box: Box  # the plate in photo pixels
    text: str
    paste: Path | None = None  # a tight US crop drawn over the plate

    @property
    def host(self) -> str:
        """The key of the photo the plate is shown on (a US crop's host car photo)."""
        return self.key.split("@")[-1]

    def image(self) -> np.ndarray:
        img = load_image(self.path)
        if self.paste is None:
            return img
        crop = load_image(self.paste)
        bx1, by1, bx2, by2 = self.plate_box
        w, h = int(round(bx2 - bx1)), int(round(by2 - by1))
        x1, y1 = int(round((bx1 + bx2) / 2 - w / 2)), int(round((by1 + by2) / 2 - h / 2))
        x2, y2 = x1 + w, y1 + h
        resized = cv2.resize(crop, (w, h), interpolation=cv2.INTER_CUBIC)
        sx1, sy1 = max(0, -x1), max(0, -y1)
        dx1, dy1 = max(0, x1), max(0, y1)
        dx2, dy2 = min(img.shape[1], x2), min(img.shape[0], y2)
        img[dy1:dy2, dx1:dx2] = resized[sy1 : sy1 + dy2 - dy1, sx1 : sx1 + dx2 - dx1]
        return img

    @property
    def plate_box(self) -> Box:
        """The plate on screen: the annotated box, or the pasted crop that covers it."""
        if self.paste is None:
            return self.box
        x1, y1, x2, y2 = self.box
        crop = load_image(self.paste)
        w = (x2 - x1) * 1.1  # cover the host's own plate, whatever the crop's aspect
        h = max((y2 - y1) * 1.2, w * crop.shape[0] / crop.shape[1])
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def car_photos(data: Path = DATA) -> list[Photo]:
    """openalpr_eu and openalpr_br: real car photos, one annotated plate each."""
    out = []
    for folder in ("openalpr_br", "openalpr_eu"):
        for label in sorted((data / "plates" / folder).glob("*.txt")):
            fields = label.read_text().split()
            name, (x, y, w, h), text = fields[0], map(float, fields[1:5]), fields[5]
            key = f"{folder}/{name}"
            out.append(Photo(key, data / "plates" / folder / name, (x, y, x + w, y + h),
                             label_text(key, text)))  # fmt: skip
    return out


# -- scenes ---------------------------------------------------------------------------------


@dataclass
class View:
    """One photo's window on screen: plate width grows from w0 to w1 px over [t0, t1]."""

    photo: Photo
    t0: float
    t1: float
    x: int  # where the plate's centre sits on screen at the start
    y: int
    w0: float
    w1: float
    drift: tuple[float, float] = (0.0, 0.0)  # px the plate's centre moves over the approach
    win: tuple[int, int] = (900, 600)
    night: bool = False
    hide: tuple[float, float] | None = None  # a van passes in front between these times


@dataclass
class Clip:
    name: str
    part: str
    kind: str
    views: list[View] = field(default_factory=list)
    # Where the car drove (lat, lon): the clip carries it as Novatek GPS, the way a Viofo
    # writes it, so the heavy stage picks the plate formats of that place. None: no GPS.
    place: tuple[float, float] | None = None

    @property
    def duration_s(self) -> float:
        return max(v.t1 for v in self.views)

    @property
    def plates(self) -> list[str]:
        return [v.photo.text for v in self.views]

    def spec(self) -> dict:
        spec = {
            "version": COMPOSER_VERSION,
            "name": self.name,
            "views": [
                [v.photo.key, v.t0, v.t1, v.x, v.y, v.w0, v.w1, v.drift, v.win, v.night, v.hide]
                for v in self.views
            ],
        }
        if self.place is not None:  # only then: the other clips keep their cache keys
            spec["place"] = list(self.place)
        return spec


def scenes(part: str, data: Path = DATA, seed: int = 13) -> list[Clip]:
    """The bench's clips for one part: deterministic for a given data folder and seed."""
    rng = random.Random(f"{seed}:{part}")
    photos = [p for p in car_photos(data) if part_of(p.key) == part]
    rng.shuffle(photos)
    hosts = [p for p in photos if p.key.startswith("openalpr_br")] or photos
    us = [c for c in us_crops(data / "plates") if part_of(c[0]) == part]
    rng.shuffle(us)
    take = iter(photos)
    clips: list[Clip] = []

    # Cars passed one after another at about the same place in the frame.
    seq = Clip(f"{part}-sequence", part, "sequence")
    for k in range(8):
        seq.views.append(_passed(next(take), k * 2.5, rng))
    clips.append(seq)

    # Two or three plates in view at once.
    multi = Clip(f"{part}-several", part, "several")
    for g, n in enumerate((3, 2, 3)):
        t0 = g * 3.5
        for i in range(n):
            x = int((i + 0.5) * W / n)
            multi.views.append(View(next(take), t0, t0 + 3.5, x, 600 + rng.randint(-60, 60),
                                    rng.uniform(70, 100), rng.uniform(170, 230),
                                    (rng.uniform(-30, 30), rng.uniform(10, 40)),
                                    win=(int(W / n) - 40, 520)))  # fmt: skip
    clips.append(multi)

    # A car hidden behind a van for a while, then found again.
    hidden = Clip(f"{part}-hidden", part, "hidden")
    _in_a_row(hidden, take, rng, 3, 4.5, 100, 620, (70, 100), (220, 300), 40.0,
              lambda t0: {"hide": (t0 + 1.5, t0 + 2.7)})  # fmt: skip
    clips.append(hidden)

    # Night: dark, noisy, smeared by the car's own motion.
    night = Clip(f"{part}-night", part, "night")
    _in_a_row(night, take, rng, 4, 3.0, 80, 640, (90, 120), (220, 300), 30.0,
              lambda t0: {"night": True})  # fmt: skip
    clips.append(night)

    # US plates (crops pasted on car photos), one after another.
    if us:
        us_clip = Clip(f"{part}-us", part, "us", place=US_PLACE)
        for k, crop in enumerate(us[:6]):
            us_clip.views.append(_passed_us(crop, hosts[k % len(hosts)], k * 2.5, rng))
        clips.append(us_clip)
    return clips


WIDE_PER_CLIP = 8


def wide_scenes(part: str, data: Path = DATA, seed: int = 13) -> list[Clip]:
    """Every car photo and every US crop of the part, 8 to a clip, passed one after another at
    about the same place in the frame (the `sequence` scene): the whole photo set through the
    video path, so that it can be set beside the still reader on the same photos."""
    rng = random.Random(f"{seed}:{part}:wide")
    photos = [p for p in car_photos(data) if part_of(p.key) == part]
    rng.shuffle(photos)
    hosts = [p for p in photos if p.key.startswith("openalpr_br")] or photos
    us = [c for c in us_crops(data / "plates") if part_of(c[0]) == part]
    rng.shuffle(us)
    # One plate twice in a clip (two photos of one car) is one plate to the pipeline, rightly.
    photos = _apart(photos, lambda p: p.text)
    us = _apart(us, lambda c: c[3])
    clips: list[Clip] = []
    for n, k0 in enumerate(range(0, len(photos), WIDE_PER_CLIP), 1):
        clip = Clip(f"{part}-wide-cars{n:02d}", part, "wide")
        for k, photo in enumerate(photos[k0 : k0 + WIDE_PER_CLIP]):
            clip.views.append(_passed(photo, k * 2.5, rng))
        clips.append(clip)
    if hosts:
        for n, k0 in enumerate(range(0, len(us), WIDE_PER_CLIP), 1):
            clip = Clip(f"{part}-wide-us{n:02d}", part, "wide", place=US_PLACE)
            for k, crop in enumerate(us[k0 : k0 + WIDE_PER_CLIP]):
                clip.views.append(_passed_us(crop, hosts[(k0 + k) % len(hosts)], k * 2.5, rng))
            clips.append(clip)
    return clips


def _apart(items: list[T], text: Callable[[T], str]) -> list[T]:
    """`items` reordered so that no two of one `WIDE_PER_CLIP` chunk share a plate text: an
    item whose text its chunk already holds swaps with the first later one that fits."""
    out = list(items)
    chunk = WIDE_PER_CLIP
    for i in range(len(out)):
        c0 = i - i % chunk
        if text(out[i]) not in {text(x) for x in out[c0:i]}:
            continue
        for j in range(c0 + chunk, len(out)):
            d0 = j - j % chunk
            mine = {text(x) for k, x in enumerate(out[c0 : c0 + chunk]) if c0 + k != i}
            theirs = {text(x) for k, x in enumerate(out[d0 : d0 + chunk]) if d0 + k != j}
            if text(out[j]) not in mine and text(out[i]) not in theirs:
                out[i], out[j] = out[j], out[i]
                break
    return out


def _passed(photo: Photo, t0: float, rng: random.Random) -> View:
    """A car approached for 2.5 s near the frame's centre, drifting a little."""
    return View(photo, t0, t0 + 2.5, 960 + rng.randint(-80, 80), 620 + rng.randint(-40, 40),
                rng.uniform(70, 110), rng.uniform(200, 300),
                (rng.uniform(-60, 60), rng.uniform(20, 60)))  # fmt: skip


def _passed_us(
    crop: tuple[str, Path, str, str], host: Photo, t0: float, rng: random.Random
) -> View:
    """A US crop pasted over a host car's plate, approached for 2.5 s."""
    key, path, _state, text = crop
    photo = Photo(f"{key}@{host.key}", host.path, host.box, text, paste=path)
    return View(photo, t0, t0 + 2.5, 960 + rng.randint(-80, 80), 620, rng.uniform(70, 100),
                rng.uniform(180, 260), (rng.uniform(-40, 40), 30.0))  # fmt: skip


def _in_a_row(
    clip: Clip,
    photos: Iterator[Photo],
    rng: random.Random,
    n: int,
    every_s: float,
    jitter_x: int,
    y: int,
    w0: tuple[float, float],
    w1: tuple[float, float],
    drift_y: float,
    extra: Callable[[float], dict],
) -> None:
    """`n` cars approached one after another near the frame's centre, `every_s` each."""
    for k in range(n):
        t0 = k * every_s
        clip.views.append(View(next(photos), t0, t0 + every_s, 960 + rng.randint(-jitter_x, jitter_x),
                               y, rng.uniform(*w0), rng.uniform(*w1), (0.0, drift_y), **extra(t0)))  # fmt: skip


# -- rendering ------------------------------------------------------------------------------


def _background(rng: np.random.Generator) -> np.ndarray:
    """Asphalt-grey, darker at the top, with grain: no plates, nothing to read."""
    ramp = np.linspace(70, 110, H, dtype=np.float32)[:, None, None]
    bg = np.broadcast_to(ramp, (H, W, 3)).copy()
    bg += rng.normal(0, 4, (H, W, 1)).astype(np.float32)
    return np.clip(bg, 0, 255).astype(np.uint8)


def _window(img: np.ndarray, box: Box, plate_w: float, win: tuple[int, int]) -> np.ndarray:
    """The photo scaled so its plate is `plate_w` px wide, the plate at the window's centre."""
    x1, y1, x2, y2 = box
    s = plate_w / max(1.0, x2 - x1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    ww, wh = win
    m = np.array([[s, 0, ww / 2 - s * cx], [0, s, wh * 0.55 - s * cy]], dtype=np.float32)
    return cv2.warpAffine(img, m, (ww, wh), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)  # fmt: skip


def _paste(frame: np.ndarray, tile: np.ndarray, cx: float, cy: float) -> tuple[int, int, int, int]:
    th, tw = tile.shape[:2]
    left, top = int(round(cx - tw / 2)), int(round(cy - th * 0.55))
    dx1, dy1 = max(0, left), max(0, top)
    dx2, dy2 = min(W, left + tw), min(H, top + th)
    if dx2 > dx1 and dy2 > dy1:
        frame[dy1:dy2, dx1:dx2] = tile[dy1 - top : dy2 - top, dx1 - left : dx2 - left]
    return dx1, dy1, dx2, dy2


def render_frames(clip: Clip) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(int(hashlib.sha1(clip.name.encode()).hexdigest()[:8], 16))
    bg = _background(rng)
    images = {id(v): v.photo.image() for v in clip.views}
    boxes = {id(v): v.photo.plate_box for v in clip.views}
    n = int(round(clip.duration_s * FPS))
    for i in range(n):
        t = i / FPS
        frame = bg.copy()
        for v in clip.views:
            if not v.t0 <= t < v.t1:
                continue
            a = (t - v.t0) / (v.t1 - v.t0)
            plate_w = v.w0 + (v.w1 - v.w0) * a**1.3  # closing in faster at the end
            tile = _window(images[id(v)], boxes[id(v)], plate_w, v.win)
            if v.night:
                tile = _night(tile, rng)
            cx, cy = v.x + v.drift[0] * a, v.y + v.drift[1] * a
            x1, y1, x2, y2 = _paste(frame, tile, cx, cy)
            if v.hide and v.hide[0] <= t < v.hide[1]:
                _van(frame, (x1, y1, x2, y2), (t - v.hide[0]) / (v.hide[1] - v.hide[0]))
        yield frame


def _night(tile: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dark = tile.astype(np.float32) * 0.35
    dark = cv2.filter2D(dark, -1, np.full((1, 7), 1 / 7, dtype=np.float32))  # motion smear
    dark += rng.normal(0, 5, dark.shape[:2] + (1,)).astype(np.float32)
    return np.clip(dark, 0, 255).astype(np.uint8)


def _van(frame: np.ndarray, rect: tuple[int, int, int, int], a: float) -> None:
    """A plain dark van in front of the car (covers it fully; slides across)."""
    x1, y1, x2, y2 = rect
    w = x2 - x1
    shift = int((a - 0.5) * 0.3 * w)
    vx1, vx2 = max(0, x1 - w // 6 + shift), min(W, x2 + w // 6 + shift)
    vy1, vy2 = max(0, y1 - 40), min(H, y2 + 40)
    frame[vy1:vy2, vx1:vx2] = (48, 52, 58)
    frame[vy1 + 20 : vy1 + 60, vx1 + 30 : vx2 - 30] = (90, 96, 104)  # a window band


def render(clip: Clip, dst: Path) -> Path:
    """Encode the clip to `dst` (H.264, yuv420p, 30 fps); atomic."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".part.mp4")
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
           "-s", f"{W}x{H}", "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-preset", "veryfast",
           "-crf", "20", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(tmp)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for frame in render_frames(clip):
            proc.stdin.write(frame.tobytes())
    finally:
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        rc = proc.wait()
    if rc != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"ffmpeg could not encode {dst.name}: {err.strip()[-500:]}")
    tmp.replace(dst)
    return dst


def rendered(clip: Clip, cache: Path, log: Callable[[str], None] = print) -> Path:
    """The clip's file in `cache`, rendered once per scene description. A clip with a place
    carries its GPS, and its name the recording time (as camera names do) that aligns it."""
    key = hashlib.sha1(json.dumps(clip.spec(), sort_keys=True).encode()).hexdigest()[:12]
    stamp = f"-{CLIP_START_UTC:%Y%m%d-%H%M%S}" if clip.place is not None else ""
    dst = cache / f"{clip.name}{stamp}-{key}.mp4"
    if not dst.exists():
        log(f"composing {clip.name} ({clip.duration_s:.1f} s, {len(clip.views)} plates)")
        render(clip, dst)
        if clip.place is not None:
            lat, lon = clip.place
            fixes = synthetic_track(CLIP_START_UTC, int(clip.duration_s) + 2, lat, lon)
            add_novatek_gps(dst, fixes)
    return dst
