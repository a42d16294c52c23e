"""Plate tracks across sampled frames: one physical plate, one track.

A small IoU + motion tracker with Hungarian assignment (scipy's `linear_sum_assignment`), not
a packaged ByteTrack (docs/decisions.md says why: frames here are 0.5 s or more apart and
gated, so steps are uneven and a plate often moves more than its own width between samples,
where IoU-only association breaks tracks; the packages also pull a second OpenCV or
matplotlib and PyAV). Time is in seconds, not frames, so skipped frames cost nothing.

Association cost for a track and a box: 1 - IoU with the track's predicted box (constant
velocity of the centre, last size) plus the centre distance in plate widths; pairs whose
sizes differ by more than 2x or whose centres are more than `max_jump` plate widths apart
are not associated at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

Box = tuple[float, float, float, float]
_FORBIDDEN = 1e6


@dataclass
class Track:
    track_id: int
    members: list[int] = field(default_factory=list)  # caller's indexes (observations)
    box: Box = (0.0, 0.0, 0.0, 0.0)
    last_s: float = 0.0
    first_s: float = 0.0
    velocity: tuple[float, float] = (0.0, 0.0)  # centre pixels per second

    def predict(self, t: float) -> Box:
        dt = t - self.last_s
        dx, dy = self.velocity[0] * dt, self.velocity[1] * dt
        x1, y1, x2, y2 = self.box
        return (x1 + dx, y1 + dy, x2 + dx, y2 + dy)


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
    active: list[Track] = field(default_factory=list)
    finished: list[Track] = field(default_factory=list)
    _next_id: int = 1

    def cost(self, track: Track, box: Box, t: float) -> float:
        pred = track.predict(t)
        w = max(1.0, box[2] - box[0], track.box[2] - track.box[0])
        size = (box[2] - box[0]) / max(1.0, track.box[2] - track.box[0])
        (px, py), (bx, by) = _centre(pred), _centre(box)
        jump = float(np.hypot(px - bx, py - by)) / w
        if not 0.5 <= size <= 2.0 or jump > self.max_jump:
            return _FORBIDDEN
        return (1.0 - iou(pred, box)) + jump

    def update(self, t: float, boxes: list[Box], indexes: list[int]) -> list[int]:
        """Assign each box (with the caller's index) to a track; returns the track ids."""
        self._expire(t)
        ids = [0] * len(boxes)
        unmatched = set(range(len(boxes)))
        if self.active and boxes:
            cost = np.array([[self.cost(tr, b, t) for b in boxes] for tr in self.active])
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] >= _FORBIDDEN:
                    continue
                self._extend(self.active[r], t, boxes[c], indexes[c])
                ids[c] = self.active[r].track_id
                unmatched.discard(c)
        for c in sorted(unmatched):
            track = Track(self._next_id, [indexes[c]], boxes[c], t, t)
            self._next_id += 1
            self.active.append(track)
            ids[c] = track.track_id
        return ids

    def hold(self, t: float) -> None:
        """The scene has not changed up to `t` (a static frame skipped the detector): every
        active track is still where it was, so it stays alive and stops moving."""
        for track in self.active:
            track.last_s, track.velocity = max(track.last_s, t), (0.0, 0.0)

    def _extend(self, track: Track, t: float, box: Box, index: int) -> None:
        dt = t - track.last_s
        if dt > 0:
            (ox, oy), (nx, ny) = _centre(track.box), _centre(box)
            vx, vy = (nx - ox) / dt, (ny - oy) / dt
            # Smoothed: one jittery box should not throw the next prediction off.
            n = len(track.members)
            a = 1.0 if n == 1 else 0.6
            track.velocity = (
                a * vx + (1 - a) * track.velocity[0],
                a * vy + (1 - a) * track.velocity[1],
            )
        track.box, track.last_s = box, t
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
