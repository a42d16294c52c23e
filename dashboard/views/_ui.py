"""Shared page helpers: the DB guard, links that stay in the tab, state in the URL, media with
placeholders, maps, watchlist marks."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import pandas as pd
import pydeck as pdk
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from dashboard import config, media
from dashboard.watchlist import badge
from dashcam.settings import Settings
from models.db import DatabaseError, check_current, get_engine
from models.tables import Watchlist
from tasks.watchlist import list_entries

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


# The pages by the names links use (url_path in app.py); st.page_link and st.switch_page take
# the script path.
PAGES = {name: f"views/{name}.py" for name in
         ("home", "videos", "video", "plate", "map", "search", "watchlist")}


def _query(params: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in params.items() if v is not None and v != ""}


def page_link(page: str, label: str, icon: str | None = None, **params: Any) -> None:
    """A link to another page that stays in this tab and this session (a markdown link or a
    LinkColumn opens a new tab: a new session and a full reload each time)."""
    st.page_link(PAGES[page], label=label, icon=icon, query_params=_query(params))


def go(page: str, **params: Any) -> NoReturn:
    """Open another page in this tab (the browser's Back returns here, with this page's state)."""
    st.switch_page(PAGES[page], query_params=_query(params))


Target = Callable[[int], tuple[str, dict[str, Any]] | None]


def table(
    rows: pd.DataFrame,
    key: str,
    targets: dict[str, Target] | None = None,
    column_config: dict[str, Any] | None = None,
    more: pd.DataFrame | None = None,
) -> None:
    """A table whose cells in `targets` columns open a page (row index -> page, params): tap or
    click the cell. `more`: every column, behind an expander (a phone shows the few that matter).
    """
    targets = targets or {}
    for frame, k in ((rows, key), *(((more, f"{key}_all"),) if more is not None else ())):
        container = st.container() if frame is rows else st.expander("All columns")
        with container:
            event = st.dataframe(frame, hide_index=True, column_config=column_config, key=k,
                                 on_select="rerun" if targets else "ignore",
                                 selection_mode="single-cell")
        if not targets:
            continue
        for row, column in event.selection.cells:
            dest = targets.get(column, lambda _r: None)(int(row))
            if dest is not None:
                go(dest[0], **dest[1])


# --------------------------------------------------------------------------- state in the URL


@dataclass(frozen=True)
class Param:
    """One piece of a page's state that lives in the address (bookmark, share, Back).

    `name` in the URL, `key` the widget holding it; `parse` raises ValueError with the reason
    for a value that is not acceptable; values equal to `default` stay out of the URL.
    """

    name: str
    key: str
    default: Any = None
    parse: Callable[[str], Any] = str
    dump: Callable[[Any], str] = str


def text_param(name: str, key: str) -> Param:
    def parse(raw: str) -> str:
        if len(raw) > MAX_TEXT:
            raise ValueError(f"is {len(raw)} characters long; a plate has at most {MAX_TEXT}")
        return raw
    return Param(name, key, "", parse)


def evidence_button(sighting: dict[str, Any], video_id: str, key: str) -> None:
    """Download the evidence of one sighting: a zip of a clip from a few seconds before to a few
    after (tasks/evidence.py), the best crop, the trip's GPX and a report. Cut on click, not on
    every run of the page."""
    import io
    import tempfile
    import zipfile

    from tasks import evidence
    from tasks.volumes import Volumes

    cfg = settings()
    if media.safe_path(cfg.archive_root or "", media.video_rel(video_id)) is None:
        st.caption("🧾 Evidence export needs the archival copy, which is not on the archive volume.")
        return
    sid = int(sighting["id"])
    text = sighting.get("plate_text") or sighting.get("text") or "unread"
    name = f"{text}_{video_id}_{float(sighting['frame_s']):.1f}s.zip"

    def build() -> bytes:
        try:
            with Session(get_engine(cfg.database_url or "")) as session, \
                    tempfile.TemporaryDirectory(prefix="dashcam-evidence-") as tmp:
                return evidence.evidence_zip(session, Volumes(cfg.raw_root, cfg.work_root, cfg.archive_root), sid, Path(tmp))[1]
        except (evidence.EvidenceError, SQLAlchemyError, OSError) as exc:
            # The download still says what happened (this runs after the page was drawn).
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                z.writestr("ERROR.txt", f"The evidence of sighting {sid} could not be made: {exc}\n")
            return buf.getvalue()

    st.download_button(
        f"🧾 Evidence: clip {evidence.BEFORE_S:.0f} s before to {evidence.AFTER_S:.0f} s after, "
        "with report", build, file_name=name, mime="application/zip", key=key, on_click="ignore",
        help="A zip: clip.mp4 (cut from the archival copy), best_crop.jpg, trip.gpx, report.json "
             "and report.txt (text and other reads, confidence, camera and UTC times, positions). "
             "`dashcam export` writes the same.",
    )


def date_param(name: str, key: str) -> Param:
    def parse(raw: str) -> date:
        try:
            return date.fromisoformat(raw[:10])
        except ValueError:
            raise ValueError("is not a date (YYYY-MM-DD)") from None
    return Param(name, key, None, parse, date.isoformat)


ANY = ""  # the "all trips" / "any state" choice: a selectbox at None shows "Choose an option"


def choice_param(name: str, key: str, options: Sequence[Any]) -> Param:
    def parse(raw: str) -> Any:
        if raw not in options:
            raise ValueError("is not one of the choices here")
        return raw
    return Param(name, key, ANY, parse)


def float_param(name: str, key: str, default: float, lo: float, hi: float) -> Param:
    def parse(raw: str) -> float:
        try:
            v = float(raw)
        except ValueError:
            v = math.nan
        if not (math.isfinite(v) and lo <= v <= hi):
            raise ValueError(f"is not a number from {lo:g} to {hi:g}")
        return v
    return Param(name, key, default, parse, lambda v: f"{v:g}")


def bool_param(name: str, key: str, default: bool) -> Param:
    def parse(raw: str) -> bool:
        if raw.lower() not in ("0", "1", "true", "false"):
            raise ValueError("is not 0 or 1")
        return raw.lower() in ("1", "true")
    return Param(name, key, default, parse, lambda v: "1" if v else "0")


def int_param(name: str, key: str, default: int, lo: int, hi: int) -> Param:
    def parse(raw: str) -> int:
        if not raw.isdigit() or not lo <= int(raw) <= hi:
            raise ValueError(f"is not a whole number from {lo} to {hi}")
        return int(raw)
    return Param(name, key, default, parse)


def _ours(params: Sequence[Param]) -> dict[str, str]:
    names = {p.name for p in params}
    return {k: v for k, v in st.query_params.to_dict().items() if k in names}


def seed_from_url(page: str, params: Sequence[Param]) -> None:
    """Before the widgets: each takes its value from the address when the address changed
    outside this session's own writes (first load, a bookmark, Back or Forward, a link) or the
    widget lost its value (another page was open). A bad value is ignored with a note.
    """
    last = st.session_state.get(f"_url_{page}")
    names = {p.name for p in params}
    if (last is not None and {k: v for k, v in last.items() if k in names} == _ours(params)
            and all(p.key in st.session_state for p in params)):
        return  # the address is what this page last wrote: the widgets hold the truth
    for p in params:
        raw = st.query_params.get(p.name)
        value = p.default
        if raw not in (None, ""):
            try:
                value = p.parse(raw)
            except ValueError as exc:
                st.warning(f"`{p.name}` in the address {exc}. It was ignored.")
        st.session_state[p.key] = value


def write_url(page: str, params: Sequence[Param], keep: Sequence[str] = (), **fixed: Any) -> None:
    """After the widgets: the address says what the page shows. `fixed` are parameters that no
    widget holds (the video being shown), `keep` ones a later part of the page reads and writes.
    Each change is a history entry: Back undoes it."""
    current = st.query_params.to_dict()
    want = _query(fixed) | {k: current[k] for k in keep if k in current}
    for p in params:
        value = st.session_state.get(p.key)
        if value is not None and value != p.default:
            want[p.name] = p.dump(value)
    st.session_state[f"_url_{page}"] = want
    if want != current:
        st.query_params.from_dict(want)


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
    fit_points: bool = False,
) -> None:
    """Sightings as dots (coloured by confidence, watchlist hits ringed) and routes as lines.

    The view fits everything, or with `fit_points` the sightings alone when there are any (the
    Map page: a route on another continent shrank the demo's sightings to one dot)."""
    located = [(p["lat"], p["lon"]) for p in points if p.get("lat") is not None]
    route = [(lat, lon) for path in paths for lon, lat in path]
    if not located and not route:
        st.info("Nothing located to map here (no GPS).")
        return
    coords = located if fit_points and located else located + route
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
    # Watchlist hits in a layer of their own, drawn last and never smaller than 8 px: among the
    # other dots (4 px at a city's zoom, where metres no longer count) a hit was hidden.
    for data, min_px in (([p for p in points if not p.get("hit")], 4),
                         ([p for p in points if p.get("hit")], 8)):
        if data:
            layers.append(pdk.Layer(
                "ScatterplotLayer", data=data, get_position=["lon", "lat"],
                get_fill_color="colour", get_radius="radius", radius_min_pixels=min_px,
                radius_max_pixels=14, pickable=True, stroked=True,
                get_line_color=[20, 20, 20, 160], line_width_min_pixels=1,
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
            "hit": bool(hit),
            "label": f"{r.get('text') or '?'} {r.get('confidence') or 0:.2f} {hit}".strip(),
        })
    return out


def fmt_conf(c: float | None) -> str:
    return "–" if c is None else f"{c:.2f}"
