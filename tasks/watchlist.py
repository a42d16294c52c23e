"""The watchlist: known plates with a label, and which seen text matches which entry.

Finalize's alerts (flows/finalize.py, the in-process chain) and the dashboard's pages use the
same rule: exact, the same up to OCR look-alikes, or one character off (tasks/plate_text.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlmodel import Session, select

from models.tables import Watchlist
from tasks.plate_text import closeness, normalize


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
