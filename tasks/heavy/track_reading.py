"""OCR per track, not per box: which crops of a track are read, and when."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from tasks.grouping import (
    Observation,
    Read,
    crop_quality,
    split_by_reads,
    vote,
)
from tasks.heavy.clip_formats import region_formats, vote_floor
from tasks.heavy.config import HeavyConfig
from tasks.plate_formats import PlateFormat
from tasks.plates import (
    PlateReader,
    confirmed,
)
from tasks.tracking import Look, likeness
from tasks.tracking import Track as PlateTrack


@dataclass
class Candidate:
    index: int
    crop: np.ndarray
    frame: np.ndarray
    quality: float
    frame_s: float = 0.0
    look: Look | None = None


# A track seen this long is also read where it looks unlike its best read crop (its best crop
# per `SPREAD_S`, at most `SPREAD_READS` of them, spread over its length): two plates joined
# into one track show as reads that change text midway. A plate that looks the same all along
# (a car ahead for minutes) costs no extra reads.
LONG_TRACK_S = 3.0
SPREAD_S = 1.5
SPREAD_READS = 4
SPREAD_KEEP = 8  # candidates (each holds its frame) kept per track: bins widen past this
DRIFTED = 0.7  # plate thumbnails correlate less than this: the track may hold another plate


@dataclass
class Spread:
    """A track's best candidate per time bin; bins double in width to keep at most
    `SPREAD_KEEP`, so a car ahead for minutes holds 8 frames, not hundreds."""

    width_s: float = SPREAD_S
    bins: dict[int, Candidate] = field(default_factory=dict)

    def offer(self, c: Candidate) -> None:
        self._put(self.bins, c)
        while len(self.bins) > SPREAD_KEEP:
            self.width_s *= 2
            old, self.bins = self.bins, {}
            for kept in old.values():
                self._put(self.bins, kept)

    def _put(self, bins: dict[int, Candidate], c: Candidate) -> None:
        b = int(c.frame_s // self.width_s)
        if b not in bins or c.quality > bins[b].quality:
            bins[b] = c


class TrackReading:
    """OCR per track, not per box: a track's best crops are read when it ends.

    Each track keeps its 2 x `per_track` best crops by quality (size, sharpness, detector
    confidence); when it ends, the best `per_track` are read, and the next ones only if those
    reads disagree; a long track's `Spread` candidates are read where they look unlike the
    crops read, and its reads may split it (`split_by_reads`). Only the winning read's crop
    and frame stay in memory afterwards.
    """

    def __init__(
        self,
        reader: PlateReader,
        per_track: int,
        config: HeavyConfig,
        formats_at: Callable[[float], tuple[PlateFormat, ...] | None] | None = None,
    ) -> None:
        self.reader, self.per_track = reader, per_track
        self.formats_at = formats_at  # frame time -> the plate formats where the car was
        self.config = config
        self.min_confidence = config.ocr_min_confidence
        self.sure_confidence = config.plate_min_confidence
        self.tracks: list[tuple[list[Read], list[int]]] = []  # (reads, members) per track
        self.best_crops: dict[int, np.ndarray] = {}
        self.best_frames: dict[int, np.ndarray] = {}
        self.ocr_s = 0.0
        self.reads = 0
        self.unconfirmed = 0  # tracks the detector was unsure of whose text fit no format
        self._pending: dict[int, Candidate] = {}  # this frame's boxes, before assignment
        self._kept: dict[int, list[Candidate]] = {}  # track id -> best candidates
        self._spread: dict[int, Spread] = {}  # track id -> best candidate per time bin

    def offer_later(
        self,
        index: int,
        crop: np.ndarray,
        frame: np.ndarray,
        box: tuple[float, float, float, float],
        det_confidence: float,
        sharp: float,
        frame_s: float = 0.0,
        box_look: Look | None = None,
    ) -> None:
        q = crop_quality(box[2] - box[0], sharp, det_confidence)
        self._pending[index] = Candidate(index, crop, frame, q, frame_s, box_look)

    def assign(self, indexes: list[int], track_ids: list[int]) -> None:
        for i, tid in zip(indexes, track_ids, strict=True):
            c = self._pending.pop(i)
            kept = self._kept.setdefault(tid, [])
            kept.append(c)
            kept.sort(key=lambda c: (-c.quality, c.index))
            del kept[2 * self.per_track :]
            self._spread.setdefault(tid, Spread()).offer(c)

    def finish(self, track: PlateTrack, obs: list[Observation]) -> None:
        cands = self._kept.pop(track.track_id, [])
        spread = self._spread.pop(track.track_id, Spread()).bins
        # A track the detector was never sure of is a plate only if its text fits a format.
        det_confidence = max(obs[i].det_confidence for i in track.members)
        reads: list[Read] = []
        read_cands: dict[int, Candidate] = {}
        middle = obs[track.members[len(track.members) // 2]].frame_s
        formats = self.formats_at(middle) if self.formats_at else None
        min_chars = vote_floor(self.config, region_formats(self.config, formats))
        tried: set[int] = set()

        def read(c: Candidate) -> None:
            tried.add(c.index)
            t = time.perf_counter()
            r = self.reader.read(c.crop, formats)
            self.ocr_s += time.perf_counter() - t
            self.reads += 1
            if r is None or not confirmed(det_confidence, r, self.sure_confidence):
                return
            obs[c.index] = replace(obs[c.index], text=r.text, confidence=round(r.confidence, 4))
            reads.append(Read(c.index, r.text, round(r.confidence, 4), c.quality))
            read_cands[c.index] = c

        for start in range(0, len(cands), self.per_track):
            for c in cands[start : start + self.per_track]:
                read(c)
            if self._agreed(reads, track.members, min_chars):
                break
        times = [obs[i].frame_s for i in track.members]
        if max(times) - min(times) >= LONG_TRACK_S:
            for c in drifted(spread, read_cands, tried):
                read(c)
        for part_reads, part_members in split_by_reads(reads, track.members, obs):
            self._close(part_reads, part_members, det_confidence, read_cands, min_chars)

    def _close(
        self,
        reads: list[Read],
        members: list[int],
        det_confidence: float,
        read_cands: dict[int, Candidate],
        min_chars: int,
    ) -> None:
        """One track (or one part of a split track) is done: vote, keep its best crops."""
        self.tracks.append((reads, list(members)))
        g = vote(reads, members, min_confidence=self.min_confidence, min_chars=min_chars)
        self.unconfirmed += g is None and det_confidence < self.sure_confidence
        if g is not None:  # keep only what may become the plate's best crop
            c = read_cands[g.best]
            self.best_crops[c.index], self.best_frames[c.index] = c.crop, c.frame
            # A merged plate may pick another read of the same text: keep those crops too.
            for r in reads:
                if r.text == g.text and r.index != g.best:
                    self.best_crops[r.index] = read_cands[r.index].crop
                    self.best_frames[r.index] = read_cands[r.index].frame

    def _agreed(self, reads: list[Read], members: list[int], min_chars: int) -> bool:
        g = vote(reads, members, min_confidence=self.min_confidence, min_chars=min_chars)
        if g is None:
            return False
        # Settled: the winner holds most of the weight and, with 2+ reads, was read twice.
        winners = sum(r.text == g.text for r in reads)
        share = 1.0 - sum(g.alternates.values())
        return share >= 0.6 and (winners >= 2 or len(reads) == 1)


def drifted(
    spread: dict[int, Candidate], read_cands: dict[int, Candidate], tried: set[int]
) -> list[Candidate]:
    """The spread candidates worth reading: unread, and unlike every crop read so far."""
    looks = [c.look for c in read_cands.values()]
    out = [
        c
        for c in spread.values()
        if c.index not in tried and all(likeness(c.look, other)[0] < DRIFTED for other in looks)
    ]
    out.sort(key=lambda c: c.frame_s)
    if len(out) > SPREAD_READS:  # evenly over the track's length
        step = len(out) / SPREAD_READS
        out = [out[int(k * step)] for k in range(SPREAD_READS)]
    return out
