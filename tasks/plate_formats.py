"""Plate text formats and confusable repair.

A format is a small pattern language in the spirit of Frigate's ``format``: ``L`` a letter,
``D`` a digit, ``A`` either, each optionally followed by ``{n}`` or ``{m,n}``; spaces and dashes
are ignored (``"LL DD LLL"`` reads like the plate). ``?`` is a place where a plate may carry a
sticker, seal or emblem between its groups (the Czech inspection sticker, German registration
seals, a Georgia county decal): the recogniser often reads it as one character (``O``, ``C``,
``8``), which is then dropped; the place may also read as nothing. A pattern is expanded to
every fixed-length layout it allows, so repair is a per-position decision: the OCR's
confusables (O/0, I/1, B/8, S/5, Z/2, G/6, D/0, Q/0) are swapped ONLY where the layout demands
the other kind of character. Text that fits no format is kept as read and marked (matched
format None).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product

__all__ = [
    "DEFAULT_FORMATS",
    "DIGIT_TO_LETTERS",
    "FORMATS_BY_REGION",
    "PlateFormat",
    "SEAL",
    "formats_for",
    "position_options",
    "repair",
    "repair_detail",
]

# Letter read where a digit belongs -> that digit, and the reverse. D and Q only ever look like
# 0; for a 0 where a letter belongs, O is by far the commonest plate letter of that shape.
LETTER_TO_DIGIT = {"O": "0", "Q": "0", "D": "0", "I": "1", "B": "8", "S": "5", "Z": "2", "G": "6"}
DIGIT_TO_LETTER = {"0": "O", "1": "I", "8": "B", "5": "S", "2": "Z", "6": "G"}
# Every letter a digit may stand for (0: O, D, Q), the commonest first.
DIGIT_TO_LETTERS: dict[str, tuple[str, ...]] = {
    d: (
        DIGIT_TO_LETTER[d],
        *sorted(ch for ch, dd in LETTER_TO_DIGIT.items() if dd == d and ch != DIGIT_TO_LETTER[d]),
    )
    for d in DIGIT_TO_LETTER
}

_TOKEN = re.compile(r"([LDA])(?:\{(\d+)(?:,(\d+))?\})?|(\?)")
SEAL = "?"  # in a layout: one character read from a sticker or seal, dropped from the text
_MAX_LAYOUTS = 512  # guards against a pattern like "A{1,8}A{1,8}A{1,8}" exploding


@dataclass(frozen=True)
class PlateFormat:
    """One plate layout family.

    ``repair``: whether confusables may be swapped to fit (see the field).
    ``band_letters``: how many leading letters a reader may drop before matching, for EU/UK
    plates whose blue country band (``D``, ``GB``, ``I``...) the recogniser reads as text.
    """

    name: str
    pattern: str
    band_letters: int = 0
    # False: the text must fit as read (seals aside); for layouts that share their region with
    # free-form plates (US vanity plates), where swapping a digit for a letter guesses wrong.
    repair: bool = True
    layouts: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layouts", _expand(self.pattern))

    @property
    def specific(self) -> bool:
        """True when the format pins letters/digits to positions (it can check and repair)."""
        return any(ch in "LD" for layout in self.layouts for ch in layout)


@lru_cache(maxsize=256)
def _expand(pattern: str) -> tuple[str, ...]:
    compact = pattern.replace(" ", "").replace("-", "")
    pos, parts = 0, []
    while pos < len(compact):
        m = _TOKEN.match(compact, pos)
        if not m:
            raise ValueError(f"bad plate pattern {pattern!r} at {compact[pos:]!r}")
        if m.group(4):  # a seal: read as one character, or not at all
            parts.append(["", SEAL])
            pos = m.end()
            continue
        lo = int(m.group(2) or 1)
        hi = int(m.group(3) or lo)
        if lo < 1 or hi < lo:
            raise ValueError(f"bad repeat in plate pattern {pattern!r}")
        parts.append([m.group(1) * n for n in range(lo, hi + 1)])
        pos = m.end()
    if not parts or all(p == ["", SEAL] for p in parts):
        raise ValueError(f"plate pattern {pattern!r} has no characters")
    layouts: list[str] = []
    for combo in product(*parts):
        layout = "".join(combo)
        if layout.strip(SEAL) != layout:
            continue  # a seal sits between groups, never at either end
        if layout not in layouts:
            layouts.append(layout)
        if len(layouts) > _MAX_LAYOUTS:
            raise ValueError(f"plate pattern {pattern!r} allows too many layouts")
    return tuple(layouts)


# Region formats. Order matters only for ties (same number of repairs): earlier wins.
FORMATS_BY_REGION: dict[str, tuple[PlateFormat, ...]] = {
    "eu": (
        PlateFormat("uk", "LL DD LLL", band_letters=2),
        PlateFormat("it-hr-fr", "LL DDD LL", band_letters=2),  # IT/FR SIV style, HR, RS
        PlateFormat("es", "DDDD LLL", band_letters=1),
        PlateFormat("nl-sidecode", "LL DDD L", band_letters=2),
        PlateFormat("pl", "LL DDDDD", band_letters=2),
        PlateFormat("pl-3", "LLL DDDD", band_letters=2),
        PlateFormat("cz", "DLA ? DDDD", band_letters=2),  # inspection sticker mid-plate
        PlateFormat("de", "L{1,3} ? L{1,2} D{1,4}", band_letters=1),  # registration seals
        PlateFormat("eu-generic", "A{4,8}", band_letters=2),
    ),
    "br": (
        PlateFormat("br-old", "LLL DDDD"),
        PlateFormat("br-mercosur", "LLL D L DD"),
    ),
    "us": (
        # The commonest standard issue (GA, TX, PA, NY, OH, NC...); a county decal or state
        # emblem often sits between the groups. Only recognised, never repaired: an Idaho
        # "8BL8976" or a vanity plate would be "repaired" into it.
        PlateFormat("us-abc1234", "LLL ? DDDD", repair=False),
        PlateFormat("us-generic", "A{2,8}"),  # 50 states, vanity plates: no position rules
    ),
    "ar": (
        PlateFormat("ar-mercosur", "LL DDD LL"),
        PlateFormat("ar-old", "LLL DDD"),
    ),
    "ro": (
        PlateFormat("ro", "LL DD LLL", band_letters=2),
        PlateFormat("ro-bucharest", "L DD{1,2} LLL", band_letters=2),
    ),
}

# Everything at once, for callers that do not know the region. Specific formats first.
DEFAULT_FORMATS: tuple[PlateFormat, ...] = tuple(
    f
    for region in ("br", "ar", "ro", "eu", "us")
    for f in FORMATS_BY_REGION[region]
    if f.name not in ("eu-generic",)
) + (PlateFormat("generic", "A{2,8}"),)


def formats_for(regions: str | Iterable[str] | None) -> tuple[PlateFormat, ...]:
    """Formats of one or several regions (``"eu"``, ``"br,ar"``); None or ``"all"``: all."""
    if regions is None:
        return DEFAULT_FORMATS
    names = regions.split(",") if isinstance(regions, str) else list(regions)
    names = [n.strip().lower() for n in names if n.strip()]
    if not names or "all" in names:
        return DEFAULT_FORMATS
    unknown = [n for n in names if n not in FORMATS_BY_REGION]
    if unknown:
        raise ValueError(f"unknown plate regions {unknown}; known: {sorted(FORMATS_BY_REGION)}")
    return tuple(f for n in names for f in FORMATS_BY_REGION[n])


def position_options(ch: str, kind: str, repair: bool = True) -> tuple[str, ...] | None:
    """What ``ch`` may become at a layout position of ``kind``: ``()`` at a seal (dropped),
    ``(ch,)`` where it fits as read, the look-alikes to swap in (commonest first) where the
    position demands the other kind and ``repair`` allows it, None where it cannot fit."""
    if kind == SEAL:
        return ()
    if kind == "L" and ch.isdigit():
        swaps = DIGIT_TO_LETTERS.get(ch)
    elif kind == "D" and ch.isalpha():
        swaps = (LETTER_TO_DIGIT[ch],) if ch in LETTER_TO_DIGIT else None
    else:
        return (ch,)
    return swaps if repair else None


def _fit(text: str, layout: str, repair: bool = True) -> tuple[str, int] | None:
    """``text`` forced onto ``layout``: (repaired, number of swaps), or None if impossible."""
    if len(text) != len(layout):
        return None
    out, swaps = [], 0
    for ch, kind in zip(text, layout, strict=True):
        options = position_options(ch, kind, repair)
        if options is None:
            return None
        if options != (ch,):  # a swap, or a sticker read as a character (dropped): same cost
            swaps += 1
        out.append(options[0] if options else "")
    return "".join(out), swaps


@dataclass(frozen=True)
class Repair:
    text: str
    format: PlateFormat | None
    swaps: int  # confusables changed
    dropped: int  # leading country-band letters dropped


def repair_detail(text: str, formats: Sequence[PlateFormat]) -> Repair:
    """Best fit of ``text`` over ``formats``: fewest changes first, then the list order.

    Specific formats (positions pinned) win over generic ones whatever the cost, so
    "any 4-8 characters" never hides a repairable fit such as ``RKO99AN`` -> ``RK099AN``.
    """
    text = re.sub(r"[^A-Z0-9]", "", text.upper())
    best: tuple[tuple[int, int, int, int], Repair] | None = None
    for order, fmt in enumerate(formats):
        for drop in range(fmt.band_letters + 1):
            if drop and (len(text) <= drop or not text[:drop].isalpha()):
                break
            body = text[drop:]
            for layout in fmt.layouts:
                fitted = _fit(body, layout, fmt.repair)
                if fitted is None:
                    continue
                # Dropping band letters costs more than a swap: band reads are rarer than O/0.
                key = (0 if fmt.specific else 1, fitted[1] + 2 * drop, order, 0)
                if best is None or key < best[0]:
                    best = (key, Repair(fitted[0], fmt, fitted[1], drop))
    if best is None:
        return Repair(text, None, 0, 0)
    return best[1]


def repair(text: str, formats: Sequence[PlateFormat]) -> tuple[str, PlateFormat | None]:
    """``text`` repaired by the best-fitting format, and that format (None: fits none)."""
    result = repair_detail(text, formats)
    return result.text, result.format
