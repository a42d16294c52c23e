"""Plate-text matching that forgives OCR: confusable characters, one edit, wildcards.

Design (the search benchmark depends on it): every text is mapped to a *canonical form* in
which look-alike characters are one symbol (O, Q, D→0, B→8, I→1, S→5, Z→2, G→6: the reader's
own table, tasks/plate_text.py). The database has an expression index on that same canonical
form of `plate.text` (migration 0009), so

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

from tasks.plate_text import LETTER_TO_DIGIT, canon

_TABLE = str.maketrans(LETTER_TO_DIGIT)
# Symbols a canonical string can contain (look-alike letters folded away).
ALPHABET: str = "".join(
    c for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in LETTER_TO_DIGIT
)
_NON_PATTERN = re.compile(r"[^A-Z0-9?*]")


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
