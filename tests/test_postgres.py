"""The app DB on a real PostgreSQL server: migrations, the whole chain, the dashboard's queries.

SQLite is the default and every other test runs on it; these prove a `postgresql+psycopg://`
URL in `DASHCAM_DATABASE_URL` works the same (issue 7).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

import tests.test_dashboard as dash
from dashboard.seed import seed_demo
from models.db import check_current, get_engine, include_object, upgrade
from tasks.synthetic import render_plate_clip
from tests.conftest import free_port
from tests.pgserver import PgServer


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    server = PgServer.temporary().start()
    yield server
    server.stop()


def test_migrations_on_postgres_match_the_models(pg: PgServer) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import models.tables  # noqa: F401

    pg.create_db("migrations")
    url = pg.url("psycopg", "migrations")
    upgrade(url)
    upgrade(url)  # idempotent
    check_current(url)
    with warnings.catch_warnings(), get_engine(url).connect() as conn:
        warnings.simplefilter("ignore")
        ctx = MigrationContext.configure(conn, opts={"include_object": include_object})
        assert compare_metadata(ctx, SQLModel.metadata) == []
        # the expression index the fuzzy search relies on exists on PostgreSQL too
        names = {
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'plate'"
            )
        }
        assert "ix_plate_text_canon" in names
        # ...with the reader's whole look-alike table (migration 0009): D and Q fold to 0 too
        (indexdef,) = conn.exec_driver_sql(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_plate_text_canon'"
        ).one()
        assert "'D'" in indexdef and "'Q'" in indexdef, indexdef


def test_process_and_status_on_postgres(pg: PgServer, tmp_path: Path) -> None:
    """`dashcam process` and `dashcam status --json` with the app DB on PostgreSQL."""
    pg.create_db("chain")
    url = pg.url("psycopg", "chain")
    render_plate_clip(
        tmp_path / "in" / "2024_0601_083000_00001F.MP4", text="KA12BCD", seconds=3.0, seed=1
    )
    bad = tmp_path / "in" / "zero.mp4"
    bad.write_bytes(b"")
    env = {**os.environ, "DASHCAM_DATA_DIR": str(tmp_path / "data"), "DASHCAM_DATABASE_URL": url}
    exe = [sys.executable, "-m", "dashcam.cli"]
    p = subprocess.run(
        [*exe, "process", str(tmp_path / "in")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 1, p.stderr  # one file failed
    p = subprocess.run(
        [*exe, "status", "--json"], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    report = json.loads(p.stdout)
    assert report["counts"]["archived"] == 1 and report["counts"]["failed"] == 1
    assert not (tmp_path / "data" / "dashcam.db").exists()  # nothing went to SQLite
    # the DB password is in no output
    assert pg.password not in p.stdout + p.stderr
    from sqlalchemy import text

    with get_engine(url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sighting")).scalar_one() > 0
        texts = {r[0] for r in conn.execute(text("SELECT text FROM plate"))}
        devices = {
            r[0]
            for r in conn.execute(text("SELECT heavy_device FROM video WHERE state = 'archived'"))
        }
    assert devices == {socket.gethostname()}  # which workhorse processed it
    assert "KA12BCD" in texts, texts


@pytest.fixture(scope="module")
def pg_seeded(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pg.create_db("dashboard")
    root = tmp_path_factory.mktemp("dash-pg")
    url = pg.url("psycopg", "dashboard")
    info = seed_demo(url, root / "archive")
    info.update(url=url)
    return info


@pytest.fixture
def pg_session(pg_seeded: dict[str, Any]) -> Iterator[Session]:
    with Session(get_engine(pg_seeded["url"])) as s:
        yield s


# The dashboard's query tests, verbatim, on PostgreSQL (wildcards use LIKE there instead of GLOB).
def test_search_queries_on_postgres(pg_session: Session) -> None:
    dash.test_search_queries(pg_session)


def test_search_finds_the_readers_look_alikes_on_postgres(pg_session: Session) -> None:
    dash.test_search_finds_the_readers_look_alikes(pg_session)


def test_user_input_is_never_sql_on_postgres(pg_session: Session) -> None:
    dash.test_user_input_is_never_sql(pg_session)


def test_plate_timeline_on_postgres(pg_session: Session) -> None:
    dash.test_plate_timeline_spans_videos_and_trips(pg_session)


def test_trip_gpx_on_postgres(pg_session: Session, pg_seeded: dict[str, Any]) -> None:
    dash.test_trip_gpx(pg_session, pg_seeded)


def test_watchlist_on_postgres(pg_session: Session) -> None:
    dash.test_watchlist_add_relabel_remove_and_near_match(pg_session)


def test_unreachable_postgres_says_so(pg: PgServer) -> None:
    from models.db import DatabaseError

    url = pg.url("psycopg", "nope", host="127.0.0.1").replace(str(pg.port), str(free_port()))
    with pytest.raises(DatabaseError) as err:
        check_current(url)
    assert "cannot reach the app database" in str(err.value) and pg.password not in str(err.value)


def test_ingest_on_postgres(pg: PgServer, tmp_path: Path) -> None:
    """Ingest's stability check stores sizes and nanosecond mtimes: 64-bit columns on PostgreSQL."""
    import tests.test_pipeline as pipeline
    from dashcam.settings import Settings

    pg.create_db("ingest")
    clip = render_plate_clip(
        tmp_path / "clips" / "2024_0601_083000_00001F.MP4", seconds=2.0, seed=1
    )
    settings = Settings(
        data_dir=tmp_path / "data", stable_seconds=0, database_url=pg.url("psycopg", "ingest")
    )
    pipeline.test_ingest_waits_for_growing_files_and_fails_bad_ones(settings, clip)
