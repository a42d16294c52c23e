"""Watchlist: known plates with a label, the only thing the dashboard writes to the DB."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sqlmodel import Field, Session, SQLModel, select

from dashboard.fuzzy import closeness, normalize


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Watchlist(SQLModel, table=True):
    """A plate to look out for. Created by migration 0003 (not by models.tables)."""

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(index=True, unique=True, description="normalized plate text")
    label: str = ""
    created_at: datetime = Field(default_factory=_utcnow)


def list_entries(session: Session) -> list[Watchlist]:
    return list(session.exec(select(Watchlist).order_by(Watchlist.text)))


def add_entry(session: Session, text: str, label: str = "") -> Watchlist:
    """Add (or relabel) a plate; raises ValueError on an empty text."""
    t = normalize(text)
    if not t:
        raise ValueError("a plate text needs at least one letter or digit")
    entry = session.exec(select(Watchlist).where(Watchlist.text == t)).first()
    if entry is None:
        entry = Watchlist(text=t, label=label.strip())
    else:
        entry.label = label.strip()
    session.add(entry)
    session.commit()
    session.refresh(entry)
    return entry


def remove_entry(session: Session, entry_id: int) -> bool:
    entry = session.get(Watchlist, entry_id)
    if entry is None:
        return False
    session.delete(entry)
    session.commit()
    return True


def match(text: str | None, entries: Iterable[Watchlist]) -> tuple[Watchlist, int] | None:
    """The closest watchlist entry for a seen text (exact, OCR-equivalent or one off), if any."""
    if not text:
        return None
    best: tuple[Watchlist, int] | None = None
    for e in entries:
        c = closeness(e.text, text)
        if c <= 2 and (best is None or c < best[1]):
            best = (e, c)
    return best


def matcher(session: Session) -> Callable[[str], tuple[str, str, int] | None]:
    """The watchlist as finalize's alerts see it: the same rule as the pages' marks."""
    entries = list_entries(session)

    def hit(text: str) -> tuple[str, str, int] | None:
        m = match(text, entries)
        return (m[0].text, m[0].label, m[1]) if m else None

    return hit


def badge(text: str | None, entries: Iterable[Watchlist]) -> str:
    """A short marker for tables: '' or '🚨 label (near)'."""
    m = match(text, entries)
    if m is None:
        return ""
    entry, c = m
    kind = "" if c == 0 else " (near " + entry.text + ")"
    return f"🚨 {entry.label or entry.text}{kind}"
