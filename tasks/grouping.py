"""Group the reads of one video into plates and vote on each plate's text.

First version (issue 2): reads are grouped by text similarity within a time window; the text
with the highest summed confidence wins. Tracking across frames and vehicle association
(issue 6) replace `group_reads` behind the same data classes.
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
