"""Engine, sessions and migrations for the app DB (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseError(RuntimeError):
    """The app DB is unreachable or not migrated; the message says what to do."""


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            # WAL lets the dashboard read while a stage writes; busy_timeout rides out the
            # short write locks of concurrent flow runs instead of failing them.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# Indexes written by hand in migrations that the models cannot express (expression indexes):
# autogenerate must not propose dropping them.
HAND_MADE_INDEXES = {"ix_plate_text_canon"}


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    return not (type_ == "index" and name in HAND_MADE_INDEXES)


def _alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the DB to the newest schema (idempotent). Run by `dashcam up`/`process`/`db upgrade`."""
    cfg = _alembic_config(url)
    with get_engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def check_current(url: str) -> None:
    """Raise DatabaseError unless the DB is reachable and at the newest migration."""
    head = ScriptDirectory.from_config(_alembic_config(url)).get_current_head()
    try:
        with get_engine(url).connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise DatabaseError(f"cannot reach the app database at {redact_url(url)}: {exc.orig}") from exc
    if current != head:
        raise DatabaseError(
            f"the app database at {redact_url(url)} is at migration {current or 'none'}, the code "
            f"needs {head}: run `dashcam db upgrade` on the main server"
        )


def redact_url(url: str | None) -> str:
    """The URL with any user:password replaced by ***, for messages and logs (never print a
    credential). The one redaction: the app DB's, the Prefect API's and the code repo's URLs.

    Up to the last @, so a password holding an @ does not leak its tail.
    """
    if not url:
        return str(url)
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url
