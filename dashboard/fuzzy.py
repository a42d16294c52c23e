"""Plate-text matching that forgives OCR: confusable characters, one edit, wildcards.

Design (the search benchmark depends on it): every text is mapped to a *canonical form* in
which confusable characters are one symbol (O→0, B→8, I→1, S→5, Z→2, G→6). The database has
an expression index on that same canonical form of `plate.text` (migration 0003), so

* "same up to OCR confusions" is one indexed equality lookup, and
* "one character off" is a bounded candidate set: every canonical string at edit distance 1
  (substitute / delete / insert one symbol of a 30-symbol alphabet, ~60 per character), looked
  up with one indexed `IN (...)`; ranking happens in Python on the few rows that come back.

Wildcards (`?` one character, `*` any run) become a GLOB on the canonical form; a literal
prefix turns into an indexed range, so only patterns that start with `*` scan the index.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Letter → the digit OCR confuses it with. Canonical form keeps the digit.
CONFUSABLE: dict[str, str] = {"O": "0", "B": "8", "I": "1", "S": "5", "Z": "2", "G": "6"}
_TABLE = str.maketrans(CONFUSABLE)
# Symbols a canonical string can contain (confusable letters folded away).
ALPHABET: str = "".join(
    c for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in CONFUSABLE
)
_NON_PLATE = re.compile(r"[^A-Z0-9]")
_NON_PATTERN = re.compile(r"[^A-Z0-9?*]")


def normalize(text: str) -> str:
    """What the pipeline stores: A-Z0-9 only, uppercase."""
    return _NON_PLATE.sub("", text.upper())


def canon(text: str) -> str:
    """Canonical form: normalized, confusable letters replaced by their digit."""
    return normalize(text).translate(_TABLE)


def canon_sql(column: str) -> str:
    """The canonical form as an SQL expression over a column (a constant, never user input).

    Must stay textually identical to the expression index in migration 0003, or SQLite will
    not use the index. Literals, not bind parameters, for the same reason.
    """
    expr = column
    for letter, digit in CONFUSABLE.items():
        expr = f"replace({expr}, '{letter}', '{digit}')"
    return expr


def neighbours(text: str) -> set[str]:
    """Every canonical string within one edit (substitution, deletion, insertion) of `text`."""
    c = canon(text)
    out = {c}
    for i in range(len(c)):
        out.add(c[:i] + c[i + 1 :])  # deletion
        for a in ALPHABET:
            out.add(c[:i] + a + c[i + 1 :])  # substitution
    for i in range(len(c) + 1):
        for a in ALPHABET:
            out.add(c[:i] + a + c[i:])  # insertion
    out.discard("")
    return out


def edit_distance(a: str, b: str, cap: int = 3) -> int:
    """Levenshtein distance, stopping early once it exceeds `cap` (we only care about ≤ 1)."""
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > cap:
            return cap + 1
        prev = cur
    return prev[-1]


def closeness(query: str, text: str) -> int:
    """0 identical, 1 same up to OCR confusions, 2 one edit away (canonically), 9 unrelated."""
    if normalize(query) == normalize(text):
        return 0
    cq, ct = canon(query), canon(text)
    if cq == ct:
        return 1
    if edit_distance(cq, ct, cap=1) <= 1:
        return 2
    return 9


def is_near(a: str, b: str) -> bool:
    """The watchlist's rule: identical, OCR-confusion-equivalent, or one character off."""
    return closeness(a, b) <= 2


def has_wildcards(query: str) -> bool:
    return "?" in query or "*" in query


def wildcard_glob(query: str) -> str:
    """`?`/`*` pattern → GLOB over the canonical form (GLOB's own `[` is stripped with the rest)."""
    q = _NON_PATTERN.sub("", query.upper())
    q = re.sub(r"\*+", "*", q)
    return q.translate(_TABLE)


def literal_prefix(glob: str) -> str:
    """The fixed part before the first wildcard: the indexed range to scan."""
    m = re.match(r"[^?*]*", glob)
    return m.group(0) if m else ""


@lru_cache(maxsize=256)
def _glob_regex(glob: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob) + r"\Z"
    )


def wildcard_match(query: str, text: str) -> bool:
    """Python twin of the SQL GLOB (used for ranking and for the watchlist)."""
    return bool(_glob_regex(wildcard_glob(query)).match(canon(text)))
