"""Shared page helpers: the DB guard, links, media with placeholders, maps, watchlist marks."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pydeck as pdk
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from dashboard import config, media
from dashboard.watchlist import Watchlist, badge, list_entries
from dashcam.settings import Settings
from models.db import DatabaseError, check_current, get_engine

NO_DB_HINT = "Check `DASHCAM_DATABASE_URL` and that the main server's DB is up, then reload."
# Plates are at most ~10 characters; room for wildcards and spaces, and no more: a 3,000-character
# search held the server for ~10 s and echoed itself screens tall.
MAX_TEXT = 32
# A clip is minutes long; a day is a generous bound for a playback start in seconds.
MAX_TIME_S = 86_400.0


def settings() -> Settings:
    # Fresh each run (cheap): environment changes (tests, relaunch) are picked up.
    return Settings()


def _check(url: str) -> None:
    if url.startswith("sqlite") and "///" in url:
        path = url.split("///", 1)[1]
        # A read-only dashboard must not create an empty database where none is.
        if path and path != ":memory:" and not Path(path).exists():
            raise DatabaseError(f"there is no app database at {path}")
    check_current(url)


@contextmanager
def db() -> Iterator[Session]:
    """A session on the app DB, or a clear message (never a traceback) and the page stops."""
    url = settings().database_url or ""
    try:
        _check(url)
    except (DatabaseError, SQLAlchemyError, OSError) as exc:
        st.error(f"The app database is unreachable: {exc}")
        st.info(NO_DB_HINT)
        st.stop()
    try:
        with Session(get_engine(url)) as session:
            yield session
    except SQLAlchemyError as exc:
        st.error(f"The app database failed while reading: {type(exc).__name__}: {exc.args[0] if exc.args else ''}")
        st.info(NO_DB_HINT)
        st.stop()


def link(page: str, **params: Any) -> str:
    """A relative URL to another page (works under any server.baseUrlPath)."""
    q = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{page}?{q}" if q else page


def param_text(name: str, default: str = "") -> str:
    """A text query parameter, or `default` with a note when it is too long to be a plate."""
    value = st.query_params.get(name, default) or default
    if len(value) > MAX_TEXT:
        st.warning(f"`{name}` in the address is {len(value)} characters long; a plate has at most "
                   f"{MAX_TEXT}. It was ignored.")
        return default
    return value


def param_time(name: str, upper: float | None = None) -> float:
    """A time in seconds from the query string: finite, 0 or more, at most `upper` (else 0 and a note)."""
    raw = st.query_params.get(name)
    if raw in (None, ""):
        return 0.0
    try:
        t = float(raw)
    except ValueError:
        t = math.nan
    limit = upper if upper is not None and upper > 0 else MAX_TIME_S
    if not math.isfinite(t) or not 0.0 <= t <= limit:
        st.warning(f"`{name}={raw[:20]}` is not a time in this video (0 to {limit:.0f} s); starting at 0.")
        return 0.0
    return t


def watch_entries(session: Session) -> list[Watchlist]:
    try:
        return list_entries(session)
    except SQLAlchemyError:
        return []


def mark(text: str | None, entries: Sequence[Watchlist]) -> str:
    return badge(text, entries)


def show_image(rel: str | None, caption: str | None = None, width: int | str = "content") -> None:
    src = media.source(settings().archive_root or "", rel)
    if src is None:
        st.caption(f"🖼️ image not in the archive{f' ({caption})' if caption else ''}")
        return
    try:
        st.image(str(src), caption=caption, width=width)
    except Exception as exc:  # a damaged file must not break the page
        st.caption(f"🖼️ image unreadable ({type(exc).__name__})")


def show_video(video_id: str, start_s: float = 0.0) -> bool:
    src = media.source(settings().archive_root or "", media.video_rel(video_id))
    if src is None:
        st.warning("The archival video is not on the archive volume (not archived yet, or missing).")
        return False
    st.video(str(src), start_time=int(max(0.0, start_s)))
    return True


def date_range(key: str, clock: str = "camera clock") -> tuple[date | None, date | None]:
    c1, c2 = st.columns(2)
    d_from = c1.date_input("From", value=None, key=f"{key}_from", help=f"Dates by the {clock}.")
    d_to = c2.date_input("To", value=None, key=f"{key}_to", help=f"Dates by the {clock}.")
    return d_from, d_to


def confidence_colour(c: float | None) -> list[int]:
    """Red (low) → green (high)."""
    c = 0.0 if c is None else max(0.0, min(1.0, c))
    return [int(230 * (1 - c)), int(60 + 160 * c), 60, 210]


_BLANK_STYLE: dict[str, Any] = {"version": 8, "sources": {}, "layers": [
    {"id": "background", "type": "background", "paint": {"background-color": "#eef1f4"}},
]}


def map_style() -> str:
    """The maps' MapLibre style as a data: URL: the configured raster tiles with their
    attribution, or a plain background that fetches nothing.

    A string, not an inline style object: Streamlit's map component calls string methods on it
    (an object left the map blank). And never None: then pydeck and Streamlit load CARTO's style
    from the internet, which an offline install must not do.
    """
    style = _BLANK_STYLE
    if config.MAP_TILE_URL:
        style = {"version": 8, "sources": {"tiles": {
            "type": "raster", "tiles": [config.MAP_TILE_URL], "tileSize": 256,
            "attribution": config.MAP_ATTRIBUTION, "maxzoom": 19,
        }}, "layers": [{"id": "tiles", "type": "raster", "source": "tiles"}]}
    return "data:application/json;charset=utf-8," + quote(json.dumps(style, separators=(",", ":")))


def show_map(
    points: Sequence[dict[str, Any]] = (),
    paths: Sequence[list[list[float]]] = (),
    height: int = 420,
    key: str | None = None,
) -> None:
    """Sightings as dots (coloured by confidence, watchlist hits ringed) and routes as lines."""
    coords = [(p["lat"], p["lon"]) for p in points if p.get("lat") is not None]
    coords += [(lat, lon) for path in paths for lon, lat in path]
    if not coords:
        st.info("Nothing located to map here (no GPS).")
        return
    lats = [c[0] for c in coords]
    lons = [c[1] for c in coords]
    span = max(max(lats) - min(lats), max(lons) - min(lons), 0.001)
    zoom = max(2, min(16, int(math.log2(360 / span)) - 1))  # whole extent in view
    layers = []
    if paths:
        layers.append(pdk.Layer(
            "PathLayer", data=[{"path": p} for p in paths], get_path="path",
            get_color=[30, 110, 220, 200], width_min_pixels=3,
        ))
        # Where each route starts (white) and ends (black): a line alone has no direction.
        ends = [{"lon": p[i][0], "lat": p[i][1], "colour": c, "label": label}
                for p in paths if p
                for i, c, label in ((0, [255, 255, 255, 255], "start"), (-1, [20, 20, 20, 255], "end"))]
        layers.append(pdk.Layer(
            "ScatterplotLayer", data=ends, get_position=["lon", "lat"], get_fill_color="colour",
            get_radius=8, radius_min_pixels=5, radius_max_pixels=9, stroked=True,
            get_line_color=[30, 110, 220, 255], line_width_min_pixels=2, pickable=True,
        ))
    if points:
        layers.append(pdk.Layer(
            "ScatterplotLayer", data=list(points), get_position=["lon", "lat"],
            get_fill_color="colour", get_radius="radius", radius_min_pixels=4,
            radius_max_pixels=14, pickable=True, stroked=True, get_line_color=[20, 20, 20, 160],
            line_width_min_pixels=1,
        ))
    deck = pdk.Deck(
        layers=layers,
        initial_view_state=pdk.ViewState(
            latitude=(min(lats) + max(lats)) / 2, longitude=(min(lons) + max(lons)) / 2, zoom=zoom
        ),
        map_style=map_style(),
        tooltip={"text": "{label}"},
    )
    st.pydeck_chart(deck, height=height, key=key)


def map_points(rows: Sequence[dict[str, Any]], entries: Sequence[Watchlist]) -> list[dict[str, Any]]:
    """Rows → JSON-safe map points (pydeck cannot serialise datetimes)."""
    out = []
    for r in rows:
        if r.get("lat") is None or r.get("lon") is None:
            continue
        hit = mark(r.get("text"), entries)
        out.append({
            "lat": r["lat"], "lon": r["lon"],
            "colour": [200, 0, 200, 230] if hit else confidence_colour(r.get("confidence")),
            "radius": 12 if hit else 6,
            "label": f"{r.get('text') or '?'} {r.get('confidence') or 0:.2f} {hit}".strip(),
        })
    return out


def fmt_conf(c: float | None) -> str:
    return "–" if c is None else f"{c:.2f}"
