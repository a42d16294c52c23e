"""Group the reads of one video into plates and vote on each plate's text.

`vote` and `merge_tracks` (issue 6): the reads of one track (tasks/tracking.py) are
clustered by string similarity and weighted by OCR confidence and crop quality; tracks of the
same plate (lost and found again, e.g. behind a truck) are merged by text within a time gap.
`group_reads` (issue 2, no tracks: text similarity within a time window) is kept for callers
that have reads but no tracks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


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


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


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


def merge_tracks(
    tracks: list[tuple[list[Read], list[int]]],
    obs: list[Observation],
    *,
    min_confidence: float,
    min_chars: int,
    max_gap_s: float = 10.0,
) -> list[PlateGroup]:
    """One plate per physical plate: tracks (reads, members) whose votes are similar texts and
    that are at most `max_gap_s` apart are one plate, voted again over all their reads."""
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
    for p, _ in plates:
        p.members.sort(key=lambda j: (obs[j].frame_s, j))
    return [p for p, _ in plates]
