"""Plate tracks across sampled frames: one physical plate, one track.

A small IoU + motion tracker with Hungarian assignment (scipy's `linear_sum_assignment`), not
a packaged ByteTrack (docs/decisions.md says why: frames here are 0.5 s or more apart and
gated, so steps are uneven and a plate often moves more than its own width between samples,
where IoU-only association breaks tracks; the packages also pull a second OpenCV or
matplotlib and PyAV). Time is in seconds, not frames, so skipped frames cost nothing.

Association cost for a track and a box: 1 - IoU with the track's predicted box (constant
velocity of the centre and of the log-size) plus the centre distance in plate widths, plus
how far the size is from the predicted size, plus how unlike the box looks. A pair is never
associated when the centre is more than `max_jump` plate widths from the prediction, when the
size is off the predicted size by more than `max_size_step` (a plate that grows as the car
closes in grows smoothly; a box that suddenly shrinks or doubles is another plate, e.g. the
next parked car at the same place in the frame), or when both boxes carry a `Look` and they
look unlike (`min_likeness`): the grey layout of the plate's characters, scale-free. Why not
IoU-only or ByteTrack: they join two plates that follow each other at the same place, which
is exactly what passing parked cars looks like; a re-ID embedding from the recogniser's own
features would need the OCR on every box, which is the cost tracks exist to avoid, while a
thumbnail and a colour histogram cost ~0.2 ms a box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

Box = tuple[float, float, float, float]
_FORBIDDEN = 1e6


_LOOK_SIZE = (32, 8)  # (w, h) of a plate's grey thumbnail: the character layout, not detail
_LOOK_SHIFT = (2, 1)  # thumbnail pixels the boxes may be offset by (detector jitter)
_CAR_BINS = (12, 4)  # hue x saturation bins of the car around the plate


@dataclass(frozen=True)
class Look:
    """What a plate box looks like, cheap enough for every box (~0.2 ms).

    Two cues, chosen on the tuning part of `dashcam bench video`'s clips (box pairs 0.5-1 s
    apart, same plate vs another plate near the prediction): the plate's grey thumbnail,
    blurred and compared over small shifts (same plate: 95 % correlate above 0.74), and the
    hue/saturation histogram of the car around it (another car at the same place: a
    Bhattacharyya distance above 0.25 in all 69 pairs, the same car under 0.17 in 99 %).
    """

    thumb: np.ndarray  # _LOOK_SIZE grey, blurred, zero mean, unit norm
    car: np.ndarray  # hue x saturation histogram around the plate, sums to 1


def look(frame: np.ndarray, box: Box) -> Look | None:
    """The box's appearance; None if the box is degenerate."""
    h, w = frame.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w, int(math.ceil(box[2]))), min(h, int(math.ceil(box[3])))
    if x2 - x1 < 4 or y2 - y1 < 2 or frame.ndim != 3:
        return None
    gray = cv2.cvtColor(frame[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    thumb = cv2.resize(gray, _LOOK_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
    thumb = cv2.GaussianBlur(thumb, (0, 0), 1.0)
    thumb -= thumb.mean()
    norm = float(np.linalg.norm(thumb))
    if norm < 1e-3:
        return None
    # The car: a plate width either side, two plate heights above, one below.
    bw, bh = x2 - x1, y2 - y1
    around = frame[max(0, y1 - 2 * bh) : min(h, y2 + bh), max(0, x1 - bw) : min(w, x2 + bw)]
    hsv = cv2.cvtColor(around, cv2.COLOR_BGR2HSV)
    car = cv2.calcHist([hsv], [0, 1], None, list(_CAR_BINS), [0, 180, 0, 256]).ravel()
    return Look(thumb / norm, car / max(float(car.sum()), 1.0))


def likeness(a: Look | None, b: Look | None) -> tuple[float, float]:
    """(plate correlation -1..1, car colour distance 0..1); (1, 0) when either is unknown."""
    if a is None or b is None:
        return 1.0, 0.0
    sx, sy = _LOOK_SHIFT
    corr = max(
        float((a.thumb * np.roll(b.thumb, (dy, dx), axis=(0, 1))).sum())
        for dx in range(-sx, sx + 1)
        for dy in range(-sy, sy + 1)
    )
    car = cv2.compareHist(a.car, b.car, cv2.HISTCMP_BHATTACHARYYA)
    return corr, float(car)


@dataclass
class Track:
    track_id: int
    members: list[int] = field(default_factory=list)  # caller's indexes (observations)
    box: Box = (0.0, 0.0, 0.0, 0.0)
    last_s: float = 0.0
    first_s: float = 0.0
    velocity: tuple[float, float] = (0.0, 0.0)  # centre pixels per second
    growth: float = 0.0  # d ln(width) / dt: a plate grows as the car closes in
    look: Look | None = None  # the last box's

    def predict(self, t: float) -> Box:
        dt = t - self.last_s
        dx, dy = self.velocity[0] * dt, self.velocity[1] * dt
        x1, y1, x2, y2 = self.box
        k = math.exp(self.growth * dt) / 2
        cx, cy = (x1 + x2) / 2 + dx, (y1 + y2) / 2 + dy
        w, h = (x2 - x1) * k, (y2 - y1) * k
        return (cx - w, cy - h, cx + w, cy + h)


MAX_GROWTH = 2.0  # |d ln(width) / dt| at most: two jittery boxes 0.1 s apart mean little


def log_growth(a: Box, b: Box, dt: float) -> float:
    """d ln(width) / dt from box a to box b, dt seconds later: a plate grows as the car closes in."""
    return math.log(max(1.0, b[2] - b[0]) / max(1.0, a[2] - a[0])) / dt


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _centre(b: Box) -> tuple[float, float]:
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


@dataclass
class PlateTracker:
    """Call `update` once per frame that went through the detector, in time order."""

    max_age_s: float = 2.0  # a track not seen for this long is finished
    max_jump: float = 2.5  # plate widths the centre may move beyond the prediction
    max_size_step: float = 1.6  # how far off the predicted width a box may be (ratio)
    min_likeness: float = 0.4  # plate thumbnails correlate less than this: another plate
    max_car_distance: float = 0.3  # the car around it differs more than this: another car
    active: list[Track] = field(default_factory=list)
    finished: list[Track] = field(default_factory=list)
    _next_id: int = 1

    def cost(self, track: Track, box: Box, t: float, box_look: Look | None = None) -> float:
        pred = track.predict(t)
        w = max(1.0, box[2] - box[0], pred[2] - pred[0])
        size = abs(math.log(max(1.0, box[2] - box[0]) / max(1.0, pred[2] - pred[0])))
        (px, py), (bx, by) = _centre(pred), _centre(box)
        jump = float(np.hypot(px - bx, py - by)) / w
        if size > math.log(self.max_size_step) or jump > self.max_jump:
            return _FORBIDDEN
        like, car = likeness(track.look, box_look)
        if like < self.min_likeness or car > self.max_car_distance:
            return _FORBIDDEN
        return (1.0 - iou(pred, box)) + jump + size + (1.0 - like) + car

    def update(
        self,
        t: float,
        boxes: list[Box],
        indexes: list[int],
        looks: list[Look | None] | None = None,
    ) -> list[int]:
        """Assign each box (with the caller's index and, optionally, its `look`) to a track;
        returns the track ids."""
        self._expire(t)
        looks = looks if looks is not None else [None] * len(boxes)
        ids = [0] * len(boxes)
        unmatched = set(range(len(boxes)))
        if self.active and boxes:
            cost = np.array(
                [[self.cost(tr, b, t, lk) for b, lk in zip(boxes, looks, strict=True)]
                 for tr in self.active]
            )  # fmt: skip
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] >= _FORBIDDEN:
                    continue
                self._extend(self.active[r], t, boxes[c], indexes[c], looks[c])
                ids[c] = self.active[r].track_id
                unmatched.discard(c)
        for c in sorted(unmatched):
            track = Track(self._next_id, [indexes[c]], boxes[c], t, t, look=looks[c])
            self._next_id += 1
            self.active.append(track)
            ids[c] = track.track_id
        return ids

    def cut(self) -> None:
        """A scene cut: nothing in view continues, every active track is finished."""
        self.finished += self.active
        self.active = []

    def hold(self, t: float) -> None:
        """The scene has not changed up to `t` (a static frame skipped the detector): every
        active track is still where it was, so it stays alive and stops moving."""
        for track in self.active:
            track.last_s, track.velocity = max(track.last_s, t), (0.0, 0.0)
            track.growth = 0.0

    def _extend(
        self, track: Track, t: float, box: Box, index: int, box_look: Look | None = None
    ) -> None:
        dt = t - track.last_s
        if dt > 0:
            (ox, oy), (nx, ny) = _centre(track.box), _centre(box)
            vx, vy = (nx - ox) / dt, (ny - oy) / dt
            g = log_growth(track.box, box, dt)
            # Smoothed: one jittery box should not throw the next prediction off.
            n = len(track.members)
            a = 1.0 if n == 1 else 0.6
            track.velocity = (
                a * vx + (1 - a) * track.velocity[0],
                a * vy + (1 - a) * track.velocity[1],
            )
            # Clamped: two jittery boxes 0.1 s apart must not predict a plate 3x the size.
            track.growth = min(MAX_GROWTH, max(-MAX_GROWTH, a * g + (1 - a) * track.growth))
        track.box, track.last_s = box, t
        track.look = box_look if box_look is not None else track.look
        track.members.append(index)

    def _expire(self, t: float) -> list[Track]:
        done = [tr for tr in self.active if t - tr.last_s > self.max_age_s]
        if done:
            self.active = [tr for tr in self.active if tr not in done]
            self.finished += done
        return done

    def pop_finished(self, t: float | None = None) -> list[Track]:
        """Tracks finished by time `t` (all of them when t is None), oldest first; forgotten."""
        if t is None:
            self.finished += self.active
            self.active = []
        else:
            self._expire(t)
        out, self.finished = sorted(self.finished, key=lambda tr: tr.first_s), []
        return out
