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
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import product

from tasks.plate_text import DIGIT_TO_LETTER, LETTER_TO_DIGIT

__all__ = [
    "DEFAULT_FORMATS",
    "DIGIT_TO_LETTERS",
    "FORMATS_BY_REGION",
    "GENERIC",
    "PlateFormat",
    "SEAL",
    "US_STATES",
    "US_STATE_CODES",
    "formats_for",
    "normalise",
    "position_options",
    "repair",
    "repair_detail",
]

# Letter read where a digit belongs -> that digit, and the reverse: the one look-alike table,
# which search and the watchlist fold with too (tasks/plate_text.py).
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
ROUND_SEALS = "0O8BQDCGU369"  # what a round seal or sticker reads as
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
    # True where the plates print one glyph for the letter O and the digit 0 (the US): the text
    # always writes it 0, so one plate reads one way, and 0 stands for a letter too.
    o_is_0: bool = False
    # True for a region's free-form plates that may be short (US vanity plates: `UNI`, DC's
    # `2368`): a short read that fits it is a plate where the region is known.
    short_vanity: bool = False
    # The characters a seal place (``?``) may read as; "" for any. German seals and the Czech
    # sticker are round: a W or an M read there is a letter of the plate, not a seal
    # (WOB-VWMK4 was stored as OBVMK4, its W's dropped as seals).
    seals: str = ""
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
        PlateFormat("cz", "DLA ? DDDD", band_letters=2, seals=ROUND_SEALS),  # mid-plate sticker
        PlateFormat("de", "L{1,3} ? L{1,2} D{1,4}", band_letters=1, seals=ROUND_SEALS),  # seals
        PlateFormat("eu-generic", "A{4,8}", band_letters=2),
    ),
    "br": (
        PlateFormat("br-old", "LLL DDDD"),
        PlateFormat("br-mercosur", "LLL D L DD"),
    ),
    "ar": (
        PlateFormat("ar-mercosur", "LL DDD LL"),
        PlateFormat("ar-old", "LLL DDD"),
    ),
    "ro": (
        PlateFormat("ro", "LL DD LLL", band_letters=2),
        PlateFormat("ro-bucharest", "L DD{1,2} LLL", band_letters=2),
    ),
    # The countries below repair: no photos of their plates are at hand, but on plates they do
    # not describe (../shared/data's US crops, vanity plates included, and the eu, br and ar
    # photos) their repairs broke no vanity plate, only a few foreign standard ones (Idaho
    # 8BL8976, Argentine AB083JJ) that hardly drive there. The US is different: see US_STATES.
    "gb": (
        PlateFormat("gb", "LL DD LLL", band_letters=2),  # since 2001; GB/UK band on the left
        PlateFormat("gb-prefix", "L D{1,3} LLL", band_letters=2),  # 1983-2001
        PlateFormat("gb-suffix", "LLL D{1,3} L", band_letters=2),  # 1963-1983
        PlateFormat("gb-ni", "LLL D{1,4}"),  # Northern Ireland
        PlateFormat("gb-generic", "A{2,7}", band_letters=2),  # dateless and cherished plates
    ),
    "in": (
        # State, district (1-2 digits), series (0-3 letters), number (4 digits): KA 22 P 3368,
        # DL 3C AB 1234. HSRP plates print "IND" on the left, which a reader may take in.
        PlateFormat("in", "LL D{1,2} L{1,3} DDDD", band_letters=3),
        PlateFormat("in-no-series", "LL D{1,2} DDDD", band_letters=3),
        PlateFormat("in-bh", "DD LL DDDD L{1,2}", band_letters=3),  # Bharat series: 22 BH 1234 AA
    ),
    "pk": (
        # Punjab LZW 9715, LE 1234; Sindh and Islamabad ABC-123. A small year tag is not read.
        PlateFormat("pk", "L{2,3} D{3,4}"),
    ),
    "vn": (
        # Province (2 digits), series letter, number: 34A-368.37, older 4-digit 51F-1234.
        PlateFormat("vn", "DD L D{4,5}"),
        PlateFormat("vn-2", "DD LL D{4,5}"),  # two-letter series (LD: foreign-invested firms)
        PlateFormat("vn-moto", "DD L D D{4,5}"),  # two-line motorbike plates: 29-B1 123.45
    ),
    "ca": (
        PlateFormat("ca-on", "LLLL DDD"),  # Ontario
        PlateFormat("ca-ab", "LLL DDDD"),  # Alberta
        PlateFormat("ca-qc", "LDD LLL"),  # Quebec, since 2009
        PlateFormat("ca-qc-old", "DDD LLL"),  # Quebec
        PlateFormat("ca-bc", "LLL DDD"),  # British Columbia
        PlateFormat("ca-bc-2", "LL DDDD"),
        PlateFormat("ca-generic", "A{2,8}"),
    ),
    "au": (
        PlateFormat("au-nsw", "LL DD LL"),  # New South Wales, since 2004
        PlateFormat("au-nsw-old", "LLL DD L"),
        PlateFormat("au-vic", "DLL DLL"),  # Victoria, since 2013
        PlateFormat("au-vic-old", "LLL DDD"),
        PlateFormat("au-qld", "DDD LLL"),  # Queensland
        PlateFormat("au-wa", "D LLL DDD"),  # Western Australia
        PlateFormat("au-generic", "A{2,8}"),
    ),
}


def _us(name: str, pattern: str, repair: bool = True) -> PlateFormat:
    return PlateFormat(name, pattern, repair=repair, o_is_0=True)


# Each state's standard passenger layouts (current, and older ones still common on the road).
# A state absent here has no layout of its own (Idaho's county prefixes, for one): `us` only.
# Repairs were checked on ../shared/data's US crops (state column), each layout applied to its
# own state's plates and to every other state's (a car from elsewhere): none fixed a read, and
# those marked repair=False broke some on the tuning half (LLL DDDD: Idaho 8BL8976 -> BBL8976;
# D LLL DDD: Idaho 8BL8976 -> 8BLB976; Alabama 47A8D4C -> 47A804C).
US_STATES: dict[str, tuple[PlateFormat, ...]] = {
    "ca": (_us("us-ca", "D LLL DDD", repair=False),),  # 5ABC123
    "tx": (_us("us-tx", "LLL ? DDDD", repair=False),),  # state outline between the groups
    "ny": (_us("us-ny", "LLL ? DDDD", repair=False),),
    "fl": (_us("us-fl", "LLL LDD"), _us("us-fl-2", "DDD LLL"), _us("us-fl-3", "L DDD LL")),
    "il": (_us("us-il", "LL DDDDD"), _us("us-il-2", "L DDDDDD"), _us("us-il-3", "DDDDDDD")),
    "pa": (_us("us-pa", "LLL ? DDDD", repair=False),),  # keystone between the groups
    "oh": (_us("us-oh", "LLL ? DDDD", repair=False),),
    "ga": (_us("us-ga", "LLL ? DDDD", repair=False),),  # county decal between the groups
    "nc": (_us("us-nc", "LLL ? DDDD", repair=False),),
    "mi": (_us("us-mi", "LLL ? DDDD", repair=False),),
    "nj": (_us("us-nj", "L DD LLL"),),
    "va": (_us("us-va", "LLL ? DDDD", repair=False),),
    "wa": (_us("us-wa", "LLL ? DDDD", repair=False), _us("us-wa-2", "DDD LLL")),
    "az": (_us("us-az", "LLL ? DDDD", repair=False), _us("us-az-2", "DDD LLL")),
    # Smaller states that the US crops cover.
    "ak": (_us("us-ak", "LLL DDD"),),
    "al": (_us("us-al", "D{1,2} L D{3,4} L", repair=False),),  # county first: 26A178N
    "ar": (_us("us-ar", "DDD LLL"),),
    "co": (_us("us-co", "DDD LLL"), _us("us-co-2", "LLL ? DDDD", repair=False)),
    "ct": (_us("us-ct", "DDD LLL"),),
    "dc": (_us("us-dc", "LL DDDD"),),
    "de": (_us("us-de", "D{5,6}"),),
    "hi": (_us("us-hi", "LLL DDD"),),
    "ia": (_us("us-ia", "DDD LLL"), _us("us-ia-2", "DDDD LL")),
    "in": (_us("us-in", "DDD LLL"),),
    "ks": (_us("us-ks", "DDD LLL"),),
    "ky": (_us("us-ky", "DDD LLL"),),
}
# The 50 states and DC: each has its key ("us-ca"), with or without layouts of its own.
# fmt: off
US_STATE_CODES = (
    "al", "ak", "az", "ar", "ca", "co", "ct", "de", "dc", "fl", "ga", "hi", "id", "il", "in",
    "ia", "ks", "ky", "la", "me", "md", "ma", "mi", "mn", "ms", "mo", "mt", "ne", "nv", "nh",
    "nj", "nm", "ny", "nc", "nd", "oh", "ok", "or", "pa", "ri", "sc", "sd", "tn", "tx", "ut",
    "vt", "va", "wa", "wv", "wi", "wy",
)
# fmt: on


def _example(pattern: str) -> str:
    """A plate of the pattern's shortest layout, for a name: "D LLL DDD" -> "1abc234"."""
    letters, digits = iter("abcdefgh"), iter("12345678")
    return "".join(next(letters if k == "L" else digits) for k in _expand(pattern)[0])


def _recognise_only(formats: Iterable[PlateFormat]) -> tuple[PlateFormat, ...]:
    """One recognise-only format per distinct layout set, named by an example ("us-123abc"):
    several states share most layouts."""
    out: dict[tuple[str, ...], PlateFormat] = {}
    for f in formats:
        name = f"us-{_example(f.pattern)}"
        out.setdefault(f.layouts, replace(f, name=name, repair=False))
    return tuple(out.values())


# The whole US: the commonest issue first (GA, TX, PA, NY, OH, NC...; a county decal or state
# emblem often sits between the groups), then every state's layout. Only recognised, never
# repaired: an Idaho "8BL8976" or a vanity plate would be "repaired" into one of them.
_US_SPECIFIC = _recognise_only(
    (_us("us", "LLL ? DDDD"), *(f for fs in US_STATES.values() for f in fs))
)
FORMATS_BY_REGION["us"] = (
    *_US_SPECIFIC,
    # 50 states, vanity plates: no position rules. Short ones are real plates (4 of the 250 US
    # crops: 2368, 8862, AAAC, UNI); elsewhere a short read stays a fragment unless a layout
    # fits it (`min_plate_chars`, 4, still drops 3-character reads everywhere).
    replace(_us("us-generic", "A{2,8}"), short_vanity=True),
)
for _code in US_STATE_CODES:
    FORMATS_BY_REGION[f"us-{_code}"] = (*US_STATES.get(_code, ()), *FORMATS_BY_REGION["us"])

# Any 2-8 characters, no position rules: the fallback for a car from elsewhere.
GENERIC = PlateFormat("generic", "A{2,8}")

# Everything at once, for callers that do not know the region. Specific formats first. Five
# US layouts recognise (never repair) and keep an O read as O (nothing says the car is
# American): a Californian 5ABC123 then fits as read where German "L{1,3} L{1,2} D{1,4}" made
# it SABC123, and an Illinois H694856 is no Polish HG94856. Chosen on the tuning half of the
# US crops: every US layout read one more US plate but one fewer eu photo.
_US_IN_DEFAULT = ("us-abc1234", "us-1abc234", "us-123abc", "us-a123456", "us-1234567")
DEFAULT_FORMATS: tuple[PlateFormat, ...] = (
    *(f for region in ("br", "ar", "ro", "eu") for f in FORMATS_BY_REGION[region]
      if f.name != "eu-generic"),
    *(replace(f, o_is_0=False) for f in _US_SPECIFIC if f.name in _US_IN_DEFAULT),
    GENERIC,
)  # fmt: skip


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


def normalise(text: str, fmt: PlateFormat) -> str:
    """``text`` as ``fmt`` writes it before fitting: O as 0 where the region has one glyph."""
    return text.replace("O", "0") if fmt.o_is_0 else text


def position_options(
    ch: str, kind: str, repair: bool = True, o_is_0: bool = False, seals: str = ""
) -> tuple[str, ...] | None:
    """What ``ch`` may become at a layout position of ``kind``: ``()`` at a seal (dropped),
    ``(ch,)`` where it fits as read, the look-alikes to swap in (commonest first) where the
    position demands the other kind and ``repair`` allows it, None where it cannot fit.
    ``o_is_0``: O and 0 are one glyph, written 0, that fits a letter or a digit place.
    ``seals``: what a seal place may read as ("" for anything)."""
    if kind == SEAL:
        return () if not seals or ch in seals else None
    if o_is_0 and ch in "O0":
        return ("0",)
    if kind == "L" and ch.isdigit():
        swaps = DIGIT_TO_LETTERS.get(ch)
    elif kind == "D" and ch.isalpha():
        swaps = (LETTER_TO_DIGIT[ch],) if ch in LETTER_TO_DIGIT else None
    else:
        return (ch,)
    return swaps if repair else None


def _fit(
    text: str, layout: str, repair: bool = True, o_is_0: bool = False, seals: str = ""
) -> tuple[str, int] | None:
    """``text`` forced onto ``layout``: (repaired, number of swaps), or None if impossible."""
    if len(text) != len(layout):
        return None
    out, swaps = [], 0
    for ch, kind in zip(text, layout, strict=True):
        options = position_options(ch, kind, repair, o_is_0, seals)
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
            body = normalise(text[drop:], fmt)  # O as 0 is how the region writes it: no swap
            for layout in fmt.layouts:
                fitted = _fit(body, layout, fmt.repair, fmt.o_is_0, fmt.seals)
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
