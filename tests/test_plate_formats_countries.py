"""The plate formats of each country: what ``repair`` fixes and what it must leave alone.

Misreads are the recognisers' usual confusions (O/0, I/1, B/8, S/5, Z/2, G/6) at one place of
a real layout; "alone" cases are plates that fit as read, plates of another shape (vanity,
other states) and text that is no plate.
"""

from __future__ import annotations

import numpy as np
import pytest

from tasks.plate_formats import (
    DEFAULT_FORMATS,
    FORMATS_BY_REGION,
    US_STATE_CODES,
    US_STATES,
    formats_for,
    repair,
)

CASES = [
    # India: state, district, series (0-3 letters), number.
    ("in", "KA22P3368", "KA22P3368", "in"),
    ("in", "UP16CU0006", "UP16CU0006", "in"),
    ("in", "DL3CAB1234", "DL3CAB1234", "in"),
    ("in", "KA22P33G8", "KA22P3368", "in"),  # G where a digit must be
    ("in", "UP16CUOOO6", "UP16CU0006", "in"),
    ("in", "DL3CA81234", "DL3CAB1234", "in"),  # 8 where the series letter must be
    ("in", "INDKA22P3368", "KA22P3368", "in"),  # the HSRP "IND" mark read as text
    ("in", "22BH1234AA", "22BH1234AA", "in-bh"),
    ("in", "HELLO", "HELLO", None),
    # United Kingdom: current, prefix and suffix issues, Northern Ireland.
    ("gb", "AB51ABC", "AB51ABC", "gb"),
    ("gb", "AB5IABC", "AB51ABC", "gb"),
    ("gb", "0Y09FEU", "OY09FEU", "gb"),
    ("gb", "UKAB51ABC", "AB51ABC", "gb"),  # the UK band read as text
    ("gb", "A123BCD", "A123BCD", "gb-prefix"),
    ("gb", "ABC123D", "ABC123D", "gb-suffix"),
    ("gb", "ABZ1234", "ABZ1234", "gb-ni"),
    # Pakistan.
    ("pk", "LZW9715", "LZW9715", "pk"),
    ("pk", "LZW97I5", "LZW9715", "pk"),
    ("pk", "L2W9715", "LZW9715", "pk"),
    ("pk", "AEB-123", "AEB123", "pk"),  # Sindh
    ("pk", "A8C123", "ABC123", "pk"),
    ("pk", "LEI234", "LEI234", "pk"),  # fits LLL DDD as read: no swap into LL DDDD
    # Vietnam: 34A-368.37, 89C-203.39 (real plates in ../shared/data/videos/real_plates).
    ("vn", "34A36837", "34A36837", "vn"),
    ("vn", "34A-368.37", "34A36837", "vn"),
    ("vn", "89C20339", "89C20339", "vn"),
    ("vn", "51F1234", "51F1234", "vn"),
    ("vn", "34A3G837", "34A36837", "vn"),
    ("vn", "8SC20339", "85C20339", "vn"),
    ("vn", "30LD12345", "30LD12345", "vn-2"),
    ("vn", "29B112345", "29B112345", "vn-moto"),
    ("vn", "14B02819T", "14B02819T", None),  # the video's burned-in overlay: no plate
    # US states: the state's layouts recognise; only some repair (see US_STATES).
    ("us-ca", "5ABC123", "5ABC123", "us-ca"),
    ("us-ca", "5AOJ230", "5A0J230", "us-ca"),  # one glyph for O and 0: written 0
    ("us-ca", "SABC123", "SABC123", "us-generic"),  # no repair: a vanity plate may be SABC123
    ("us-ca", "8BL8976", "8BL8976", "us-generic"),  # an Idaho plate in California
    ("us-tx", "ABC1234", "ABC1234", "us-tx"),
    ("us-tx", "ABCI234", "ABCI234", "us-generic"),
    ("us-il", "H694856", "H694856", "us-il-2"),
    ("us-il", "4I41119", "4141119", "us-il-3"),
    ("us-fl", "6I5KPI", "615KPI", "us-fl-2"),
    ("us", "NOX218", "N0X218", "us-abc123"),
    ("us", "CHICAGO", "CHICAG0", "us-generic"),  # O is 0 on vanity plates too
    # Every format at once: US layouts recognise, so a leading digit stays a digit, and the
    # letter O stays (nothing says the car is American).
    ("all", "5ABC123", "5ABC123", "us-1abc234"),
    ("all", "6XYZ789", "6XYZ789", "us-1abc234"),
    ("all", "H694856", "H694856", "us-a123456"),
    ("all", "4141119", "4141119", "us-1234567"),
    ("all", "NOX218", "NOX218", "ar-old"),
    # Canada.
    ("ca", "ABCD123", "ABCD123", "ca-on"),
    ("ca", "A8CD123", "ABCD123", "ca-on"),
    ("ca", "F32VBN", "F32VBN", "ca-qc"),
    ("ca", "F3ZVBN", "F32VBN", "ca-qc"),
    ("ca", "ABC1234", "ABC1234", "ca-ab"),
    ("ca", "AB1234", "AB1234", "ca-bc-2"),
    # Australia.
    ("au", "AB12CD", "AB12CD", "au-nsw"),
    ("au", "AB1ZCD", "AB12CD", "au-nsw"),
    ("au", "1AB2CD", "1AB2CD", "au-vic"),
    ("au", "1ABZCD", "1AB2CD", "au-vic"),
    ("au", "123ABC", "123ABC", "au-qld"),
    ("au", "ABC123", "ABC123", "au-vic-old"),
    ("au", "1ABC234", "1ABC234", "au-wa"),
]


@pytest.mark.parametrize(("region", "text", "expected", "fmt"), CASES)
def test_repair_per_country(region: str, text: str, expected: str, fmt: str | None) -> None:
    fixed, matched = repair(text, formats_for(region))
    assert (fixed, matched.name if matched else None) == (expected, fmt)


def test_region_keys() -> None:
    for key in ("eu", "br", "us", "ar", "ro", "in", "gb", "pk", "vn", "ca", "au"):
        assert FORMATS_BY_REGION[key], key
    for code in US_STATE_CODES:  # every state has a key: its own layouts, then the whole US
        formats = FORMATS_BY_REGION[f"us-{code}"]
        assert formats[len(US_STATES.get(code, ())) :] == FORMATS_BY_REGION["us"]
    assert len(US_STATE_CODES) == 51 and set(US_STATES) <= set(US_STATE_CODES)
    assert formats_for("us-ca,vn")[0].name == "us-ca"
    assert formats_for(None) == DEFAULT_FORMATS == formats_for("all")


def test_us_formats_write_o_as_0_and_only_there() -> None:
    for key, formats in FORMATS_BY_REGION.items():
        assert all(f.o_is_0 for f in formats) == (key == "us" or key.startswith("us-")), key
    assert not any(f.o_is_0 for f in DEFAULT_FORMATS)


def test_reader_scoring_keeps_a_leading_digit_with_every_format() -> None:
    """The reader's own fit (probabilities, not text): a 5 that could be an S (p 0.4) is no
    longer swapped by German "L{1,3} L{1,2} D{1,4}"; it fits D LLL DDD as read."""
    from tasks.plates.reader import CandidateReader, Read
    from tasks.plates.recognisers import ALNUM

    text = "5ABC123"
    probs = np.full((len(text), len(ALNUM)), 0.001, np.float32)
    for i, ch in enumerate(text):
        probs[i, ALNUM.index(ch)] = 0.95
    probs[0, ALNUM.index("5")], probs[0, ALNUM.index("S")] = 0.55, 0.4
    reader = object.__new__(CandidateReader)  # scoring only: no recogniser loaded
    reader.formats, reader.agreement = DEFAULT_FORMATS, 0.3
    best = reader.best_of([Read(text, probs)])
    assert best is not None and (best.text, best.format.name) == ("5ABC123", "us-1abc234")
    # Formats given per call replace the reader's own: in Vietnam this read fits nothing.
    vn = reader.best_of([Read(text, probs)], formats_for("vn"))
    assert vn is not None and vn.format is None


def test_reader_o_is_0_pools_the_two_probabilities() -> None:
    from tasks.plates.reader import CandidateReader, Read
    from tasks.plates.recognisers import ALNUM

    text = "5AOJ230"
    probs = np.full((len(text), len(ALNUM)), 0.001, np.float32)
    for i, ch in enumerate(text):
        probs[i, ALNUM.index(ch)] = 0.9
    probs[2, ALNUM.index("O")], probs[2, ALNUM.index("0")] = 0.5, 0.45
    reader = object.__new__(CandidateReader)
    reader.formats, reader.agreement = formats_for("us-ca"), 0.3
    best = reader.best_of([Read(text, probs)])
    assert best is not None and (best.text, best.format.name) == ("5A0J230", "us-ca")
    assert best.confidence == pytest.approx((6 * 0.9 + 0.95) / 7, abs=1e-3)  # O + 0
