"""Plate text, once for everyone: the look-alike table, the OCR fold and the edit distance.

The reader's repair (tasks/plate_formats.py), the grouping of reads (tasks/grouping.py), the
watchlist (tasks/watchlist.py) and the dashboard's search (dashboard/fuzzy.py) all use these,
so a misread the reader knows about (D or Q read for 0) is one search and watchlist find too.
"""

from __future__ import annotations

import re

# Letter read where a digit belongs -> that digit. D and Q only ever look like 0. The first
# letter listed for a digit is the commonest plate letter of that shape (DIGIT_TO_LETTER).
LETTER_TO_DIGIT: dict[str, str] = {
    "O": "0",
    "Q": "0",
    "D": "0",
    "I": "1",
    "B": "8",
    "S": "5",
    "Z": "2",
    "G": "6",
}
# A digit read where a letter belongs -> the letter it most likely is (0: O, not D or Q).
DIGIT_TO_LETTER: dict[str, str] = {}
for _letter, _digit in LETTER_TO_DIGIT.items():
    DIGIT_TO_LETTER.setdefault(_digit, _letter)
del _letter, _digit

_FOLD = str.maketrans(LETTER_TO_DIGIT)
_NON_PLATE = re.compile(r"[^A-Z0-9]")


def normalize(text: str) -> str:
    """What the pipeline stores: A-Z0-9 only, uppercase."""
    return _NON_PLATE.sub("", text.upper())


def canon(text: str) -> str:
    """The OCR fold: normalized, every look-alike letter replaced by its digit."""
    return normalize(text).translate(_FOLD)


def canon_sql(column: str) -> str:
    """`canon` as an SQL expression over a column (a constant, never user input).

    Must stay textually identical to the expression index (migration 0009), or SQLite will not
    use the index. Literals, not bind parameters, for the same reason.
    """
    expr = column
    for letter, digit in LETTER_TO_DIGIT.items():
        expr = f"replace({expr}, '{letter}', '{digit}')"
    return expr


def edit_distance(a: str, b: str, cap: int | None = None) -> int:
    """Levenshtein distance; with `cap`, stops early and returns cap + 1 once it exceeds it."""
    if cap is not None and abs(len(a) - len(b)) > cap:
        return cap + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if cap is not None and min(cur) > cap:
            return cap + 1
        prev = cur
    return prev[-1]


def closeness(query: str, text: str) -> int:
    """0 identical, 1 same up to OCR look-alikes, 2 one edit away (folded), 9 unrelated."""
    if normalize(query) == normalize(text):
        return 0
    cq, ct = canon(query), canon(text)
    if cq == ct:
        return 1
    if edit_distance(cq, ct, cap=1) <= 1:
        return 2
    return 9

