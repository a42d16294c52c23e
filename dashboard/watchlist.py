"""The watchlist on the dashboard's pages: a match shown as a badge (the table and the matching
are in models.tables.Watchlist and tasks/watchlist.py)."""

from __future__ import annotations

from collections.abc import Iterable

from models.tables import Watchlist
from tasks.watchlist import match


def badge(text: str | None, entries: Iterable[Watchlist]) -> str:
    """A short marker for tables: '' or '🚨 label (near)'."""
    m = match(text, entries)
    if m is None:
        return ""
    entry, c = m
    kind = "" if c == 0 else " (near " + entry.text + ")"
    return f"🚨 {entry.label or entry.text}{kind}"
