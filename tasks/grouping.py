"""Group the reads of one video into plates and vote on each plate's text.

`vote` and `merge_tracks` (issue 6): the reads of one track (tasks/tracking.py) are
clustered by string similarity and weighted by OCR confidence and crop quality; tracks of the
same plate (lost and found again, e.g. behind a truck) are merged by text within a time gap.
`group_reads` (issue 2, no tracks: text similarity within a time window) is kept for callers
that have reads but no tracks.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from tasks.plate_text import edit_distance
from tasks.tracking import MAX_GROWTH, log_growth


@dataclass(frozen=True)
class Observation:
    """One plate box in one sampled frame, with what OCR read there (text may be None)."""

    frame_s: float
    box: tuple[float, float, float, float]
    det_confidence: float
    text: str | None
    confidence: float | None
    sharpness: float = 0.0


@dataclass
class PlateGroup:
    text: str
    confidence: float
    members: list[int] = field(default_factory=list)  # indexes into the observation list
    best: int = -1  # index of the observation whose crop represents the plate
    alternates: dict[str, float] = field(default_factory=dict)


def similar(a: str, b: str) -> bool:
    """Same plate read twice: equal, or one edit apart for plates of five characters or more."""
    if a == b:
        return True
    return min(len(a), len(b)) >= 5 and edit_distance(a, b) <= 1


def group_reads(
    obs: list[Observation], *, min_confidence: float, min_chars: int, max_gap_s: float = 10.0
) -> list[PlateGroup]:
    """Cluster readable observations; returns plates ordered by first sighting."""
    usable = [
        i
        for i, o in enumerate(obs)
        if o.text and len(o.text) >= min_chars and (o.confidence or 0) >= min_confidence
    ]
    usable.sort(key=lambda i: (obs[i].frame_s, -(obs[i].confidence or 0)))
    clusters: list[list[int]] = []
    for i in usable:
        o = obs[i]
        target = None
        for c in clusters:
            last = obs[c[-1]]
            if o.frame_s - last.frame_s <= max_gap_s and any(
                similar(o.text or "", obs[j].text or "") for j in c
            ):
                target = c
                break
        if target is None:
            clusters.append([i])
        else:
            target.append(i)

    groups = []
    for c in clusters:
        votes: dict[str, float] = defaultdict(float)
        for j in c:
            votes[obs[j].text or ""] += obs[j].confidence or 0.0
        text = max(votes, key=lambda t: (votes[t], t))
        total = sum(votes.values())
        winners = [j for j in c if obs[j].text == text]
        best = max(winners, key=lambda j: (obs[j].confidence or 0, _area(obs[j].box), -j))
        mean_conf = sum(obs[j].confidence or 0 for j in winners) / len(winners)
        groups.append(
            PlateGroup(
                text=text,
                # Agreement across frames times how sure OCR was of the winning reads.
                confidence=round(mean_conf * votes[text] / total, 4),
                members=sorted(c, key=lambda j: obs[j].frame_s),
                best=best,
                alternates={t: round(v / total, 4) for t, v in votes.items() if t != text},
            )
        )
    groups.sort(key=lambda g: obs[g.members[0]].frame_s)
    return groups


def _area(box: tuple[float, float, float, float]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


@dataclass(frozen=True)
class Read:
    """One OCR read of one observation, with how good its crop was (0..1)."""

    index: int  # into the observation list
    text: str
    confidence: float
    quality: float = 1.0

    @property
    def weight(self) -> float:
        # A sharp, large crop's read counts up to twice a poor one's at the same confidence.
        return self.confidence * (0.5 + 0.5 * self.quality)


def crop_quality(width_px: float, sharpness: float, det_confidence: float) -> float:
    """0..1: wide (OCR input saturates near 200 px), sharp, confidently detected crops."""
    size = min(1.0, width_px / 200.0)
    sharp = sharpness / (sharpness + 100.0)
    return round(size * sharp * min(1.0, det_confidence / 0.7), 4)


def vote(
    reads: list[Read], members: list[int], *, min_confidence: float, min_chars: int
) -> PlateGroup | None:
    """Final text, confidence and alternates of one plate from its reads; None if none usable.

    Reads are clustered by similarity (one edit apart is the same plate read twice); the
    heaviest cluster is the plate and its heaviest text wins. Confidence is the winners' mean
    OCR confidence times their share of all the weight, so disagreement lowers it.
    """
    usable = [r for r in reads if len(r.text) >= min_chars and r.confidence >= min_confidence]
    if not usable:
        return None
    clusters: list[list[Read]] = []
    for r in sorted(usable, key=lambda r: -r.weight):
        home = next((c for c in clusters if any(similar(r.text, o.text) for o in c)), None)
        if home is None:
            clusters.append([r])
        else:
            home.append(r)
    heaviest = max(clusters, key=lambda c: sum(r.weight for r in c))
    votes: dict[str, float] = defaultdict(float)
    for r in heaviest:
        votes[r.text] += r.weight
    text = max(votes, key=lambda t: (votes[t], t))
    total = sum(r.weight for r in usable)
    winners = [r for r in heaviest if r.text == text]
    mean_conf = sum(r.confidence for r in winners) / len(winners)
    best = max(winners, key=lambda r: (r.confidence * (0.5 + 0.5 * r.quality), -r.index))
    shares: dict[str, float] = defaultdict(float)
    for r in usable:
        shares[r.text] += r.weight / total
    return PlateGroup(
        text=text,
        confidence=round(mean_conf * votes[text] / total, 4),
        members=sorted(members),
        best=best.index,
        alternates={t: round(v, 4) for t, v in shares.items() if t != text},
    )


def split_by_reads(
    reads: list[Read], members: list[int], obs: list[Observation]
) -> list[tuple[list[Read], list[int]]]:
    """A track whose reads change from one text to another partway (two plates joined into
    one track) splits where they change: (reads, members) per part, in time order.

    Only a clean change splits: two or more texts each read at least twice, each read over
    one stretch of time (AAABBB). Reads that alternate (ABAB) are one plate read two ways.
    """
    if len(reads) < 4:
        return [(reads, members)]
    at = {r.index: obs[r.index].frame_s for r in reads}
    ordered = sorted(reads, key=lambda r: (at[r.index], r.index))
    labels: list[int] = []
    texts: list[str] = []
    for r in ordered:
        k = next((i for i, t in enumerate(texts) if similar(t, r.text)), None)
        if k is None:
            texts.append(r.text)
            k = len(texts) - 1
        labels.append(k)
    major = {k for k in labels if labels.count(k) >= 2}
    if len(major) < 2:
        return [(reads, members)]
    runs: list[tuple[int, float, float]] = []  # (label, first, last read time)
    for r, k in zip(ordered, labels, strict=True):
        if k not in major:
            continue
        if runs and runs[-1][0] == k:
            runs[-1] = (k, runs[-1][1], at[r.index])
        else:
            runs.append((k, at[r.index], at[r.index]))
    if len(runs) != len(major):
        return [(reads, members)]
    cuts = [(a[2] + b[1]) / 2 for a, b in zip(runs, runs[1:], strict=False)]

    def part(t: float) -> int:
        return sum(t > c for c in cuts)

    out: list[tuple[list[Read], list[int]]] = [([], []) for _ in runs]
    for r in reads:
        out[part(at[r.index])][0].append(r)
    for j in members:
        out[part(obs[j].frame_s)][1].append(j)
    return [(rs, ms) for rs, ms in out if ms]


def merge_tracks(
    tracks: list[tuple[list[Read], list[int]]],
    obs: list[Observation],
    *,
    min_confidence: float,
    min_chars: int,
    max_gap_s: float = 10.0,
    is_plate: Callable[[str], bool] | None = None,
) -> list[PlateGroup]:
    """One plate per physical plate: tracks (reads, members) whose votes are similar texts and
    that are at most `max_gap_s` apart are one plate, voted again over all their reads; then
    partial reads and misread copies fold into the plate they belong to (`fold`), and plates
    whose text `is_plate` rejects, or that are only ever seen beside a bigger plate on its
    bumper (`_without_stickers`), are dropped."""
    voted = []
    for reads, members in tracks:
        g = vote(reads, members, min_confidence=min_confidence, min_chars=min_chars)
        if g is not None:
            voted.append((g, reads))
    voted.sort(key=lambda gr: obs[gr[0].members[0]].frame_s)
    plates: list[tuple[PlateGroup, list[Read]]] = []
    for g, reads in voted:
        start = obs[g.members[0]].frame_s
        home = next(
            (
                i
                for i, (p, _) in enumerate(plates)
                if start - obs[p.members[-1]].frame_s <= max_gap_s and similar(g.text, p.text)
            ),
            None,
        )
        if home is None:
            plates.append((g, reads))
            continue
        p, p_reads = plates[home]
        all_reads = p_reads + reads
        merged = vote(
            all_reads,
            sorted(set(p.members) | set(g.members), key=lambda j: obs[j].frame_s),
            min_confidence=min_confidence,
            min_chars=min_chars,
        )
        assert merged is not None  # both halves had usable reads
        plates[home] = (merged, all_reads)
    out = fold([p for p, _ in plates], obs)
    out = _without_stickers(out, obs)
    if is_plate is not None:
        out = [p for p in out if is_plate(p.text)]
    for p in out:
        p.members.sort(key=lambda j: (obs[j].frame_s, j))
    return out


# Two plates this close in time and place are one plate read twice when their texts allow it.
_FOLD_GAP_S = 2.0
_FOLD_JUMP = 2.0  # plate widths between the centres
_FOLD_TOUCH_S = 0.6  # one sampled frame apart (0.5 s by default)


def _related_texts(a: str, b: str) -> bool:
    """A partial read (one is a prefix or suffix of the other, 3+ characters) or a misread
    copy (edits on under half of the longer text: `VX09DCZ` / `V09DEY` is 3 in 7)."""
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 3 and (long_.startswith(short) or long_.endswith(short)):
        return True
    return edit_distance(a, b) <= max(1, int(len(long_) * 0.45))


def _same_place(a: PlateGroup, b: PlateGroup, obs: list[Observation]) -> bool:
    """b's boxes continue a's (or sit on them): at the nearest moments in time, the centres
    are within `_FOLD_JUMP` plate widths and the sizes within 1.6x, or b's box lies on a's in
    the same or the next sampled frame."""
    ta = {obs[j].frame_s: obs[j].box for j in a.members}
    tb = {obs[j].frame_s: obs[j].box for j in b.members}
    # One box on the other, in one frame or the next: the detector boxed part of the plate
    # (a 43 px box on the right half of a plate boxed whole, 91 px, half a second later).
    # Across frames only a smaller box before a bigger one: the next parked car's plate shows
    # up small inside the last one's big box (`421774` then `4233784`, two plates).
    for x, y in ((x, y) for x in ta for y in tb if abs(x - y) <= _FOLD_TOUCH_S):
        first, then = (ta[x], tb[y]) if x <= y else (tb[y], ta[x])
        if x != y and _area(first) > _area(then):
            continue
        inter = _area(_intersection(first, then))
        if inter >= 0.5 * min(_area(first), _area(then)):
            return True
    gap, (sa, sb) = min(((abs(x - y), (x, y)) for x in ta for y in tb), key=lambda g: g[0])
    if gap == 0 or gap > _FOLD_GAP_S:
        return False
    ba, bb = ta[sa], tb[sb]
    wa, wb = max(1.0, ba[2] - ba[0]), max(1.0, bb[2] - bb[0])
    jump = ((ba[0] + ba[2] - bb[0] - bb[2]) ** 2 + (ba[1] + ba[3] - bb[1] - bb[3]) ** 2) ** 0.5 / 2
    # Sizes as close as the tracker's own step, from the size the earlier plate would have
    # reached by then at its own growth: the next parked car, smaller where the last one
    # was (or no bigger though the last one was closing in), is not a continuation.
    earlier, t0, t1 = (ta, sa, sb) if sa < sb else (tb, sb, sa)
    w0, w1 = (wa, wb) if sa < sb else (wb, wa)
    predicted = w0 * math.exp(_growth(earlier) * (t1 - t0))
    return 1 / 1.6 <= w1 / predicted <= 1.6 and jump <= _FOLD_JUMP * max(wa, wb)


def _growth(boxes: dict[float, tuple[float, float, float, float]]) -> float:
    """d ln(width) / dt over a plate's boxes, first to last, clamped like the tracker's."""
    if len(boxes) < 2:
        return 0.0
    (s0, b0), (s1, b1) = min(boxes.items()), max(boxes.items())
    return min(MAX_GROWTH, max(-MAX_GROWTH, log_growth(b0, b1, s1 - s0)))


def _intersection(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float, float, float]:
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def fold(plates: list[PlateGroup], obs: list[Observation]) -> list[PlateGroup]:
    """One plate per physical plate: a plate whose text is a partial read or a misread copy of
    another's, on the same vehicle (`_same_place`), is folded into it as an alternate. The
    plate kept is the longer text, then the more confident one."""
    order = sorted(plates, key=lambda p: (-len(p.text), -p.confidence))
    kept: list[PlateGroup] = []
    for p in order:
        home = next(
            (k for k in kept if _related_texts(k.text, p.text) and _same_place(k, p, obs)), None
        )
        if home is None:
            kept.append(p)
            continue
        # The folded plate's own alternates stay visible too (its text first).
        home.alternates[p.text] = round(max(home.alternates.get(p.text, 0.0), p.confidence), 4)
        for text, share in p.alternates.items():
            if text != home.text:
                home.alternates.setdefault(text, share)
        home.members = sorted(set(home.members) | set(p.members))
    kept.sort(key=lambda p: obs[min(p.members, key=lambda j: obs[j].frame_s)].frame_s)
    return kept


# A car carries one plate per end, and its body spans more than a plate's width either side of
# it: a small box beside a plate, at its height, is a sticker or a badge on the same bumper
# (tuning cars06: a LIQUI MOLY sticker, 51 px, 48 px right of `RK857AI`'s 182 px box). A far
# car's plate shows above or inside the near plate's box, not beside it at its height.
_BESIDE_SMALLER = 0.5  # the sticker's width, at most, in the plate's widths
_BESIDE_GAP = 1.0  # the gap between the two boxes, at most, in the plate's widths


def _beside(small: tuple[float, ...], big: tuple[float, ...]) -> bool:
    ws, wb, hb = small[2] - small[0], big[2] - big[0], big[3] - big[1]
    if ws >= _BESIDE_SMALLER * wb:
        return False
    cy = (small[1] + small[3]) / 2
    if not big[1] - hb / 2 <= cy <= big[3] + hb / 2:
        return False
    gap = max(big[0] - small[2], small[0] - big[2])  # negative: the boxes overlap
    return 0 <= gap <= _BESIDE_GAP * wb


def _without_stickers(plates: list[PlateGroup], obs: list[Observation]) -> list[PlateGroup]:
    """The plates less those whose every sighting sits beside another, bigger plate's box in
    the same frame."""
    at: dict[float, list[tuple[int, tuple[float, ...]]]] = defaultdict(list)
    for k, q in enumerate(plates):
        for j in q.members:
            at[obs[j].frame_s].append((k, obs[j].box))
    return [
        p
        for k, p in enumerate(plates)
        if not all(
            any(o != k and _beside(obs[j].box, big) for o, big in at[obs[j].frame_s])
            for j in p.members
        )
    ]


# A plate seen in one sampled frame only, from a box the detector was unsure of, stands on a
# single read: its text fitting a format (`confirmed`) is not enough evidence on its own when
# OCR itself doubted it. Chosen on the tuning parts: of 619 reads that made a right plate in
# the tuning wide clips, none scored under 0.8 (those from unsure boxes 0.93 or more), nor did
# any right read of the tuning US and Argentine crops (the lowest 0.84); the unsure boxes'
# wrong reads in the tuning photos scored 0.33.
GLIMPSE_MIN_READ = 0.8


def weak_glimpses(
    plates: list[PlateGroup], obs: list[Observation], sure_confidence: float
) -> tuple[list[PlateGroup], list[PlateGroup]]:
    """(kept, dropped): dropped are the plates seen in one sampled frame only, every box of
    them scored under `sure_confidence` by the detector, whose best read of the plate's text
    scored under `GLIMPSE_MIN_READ`."""
    kept, dropped = [], []
    for p in plates:
        one_frame = len({obs[j].frame_s for j in p.members}) == 1
        unsure = max(obs[j].det_confidence for j in p.members) < sure_confidence
        read = max(
            ((obs[j].confidence or 0.0) for j in p.members if obs[j].text == p.text), default=0.0
        )
        (dropped if one_frame and unsure and read < GLIMPSE_MIN_READ else kept).append(p)
    return kept, dropped
