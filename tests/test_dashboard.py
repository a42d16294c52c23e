"""Dashboard: every page through Streamlit's AppTest on a seeded DB, plus the pure parts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from dashboard import fuzzy, media, queries
from dashboard.seed import seed_demo
from models.db import get_engine
from tasks import plate_text
from tasks.watchlist import add_entry, list_entries, match, remove_entry

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
TIMEOUT = 30  # the CI machine is slow


# --------------------------------------------------------------------------- pure functions


def test_canonical_form_folds_ocr_confusions() -> None:
    assert plate_text.canon("kx5o1-zg") == plate_text.canon("KXSOIZ6") == "KX50126"
    assert plate_text.canon("B8") == "88"


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("AB123CD", "AB123CD", 0),
        ("A8I23CD", "AB123CD", 1),  # B/8, I/1
        ("AB123CE", "AB123CD", 2),  # one substitution
        ("AB12CD", "AB123CD", 2),  # one missing
        ("AB1234CD", "AB123CD", 2),  # one extra
        ("AB999CD", "AB123CD", 9),
    ],
)
def test_closeness(query: str, text: str, expected: int) -> None:
    assert plate_text.closeness(query, text) == expected


def test_neighbours_cover_every_single_edit() -> None:
    n = fuzzy.neighbours("AB1")
    for near in ("A81", "AB", "B1", "XAB1", "AB1X", "AC1"):
        assert plate_text.canon(near) in n
    assert plate_text.canon("XY9") not in n


def test_wildcards() -> None:
    assert fuzzy.wildcard_match("AB?23*", "AB123CD")
    assert fuzzy.wildcard_match("*CD", "AB123CD")
    assert fuzzy.wildcard_match("A8*", "AB123CD")  # wildcards are OCR-forgiving too
    assert not fuzzy.wildcard_match("AB?CD", "AB123CD")
    assert fuzzy.literal_prefix(fuzzy.wildcard_glob("ab1?x*")) == "A81"
    assert fuzzy.wildcard_glob("A[B]*") == "A8*"  # GLOB syntax from the user is stripped


def test_canon_sql_matches_the_migration_index() -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "models/migrations/versions/0009_plate_text_fold_with_d_and_q.py"
    spec = importlib.util.spec_from_file_location("m0009", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert plate_text.canon_sql("text") == mod.CANON_TEXT


def test_safe_path_refuses_escapes(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    (root / "v1").mkdir(parents=True)
    (root / "v1" / "a.jpg").write_bytes(b"x")
    (tmp_path / "secret.txt").write_text("no")
    (root / "v1" / "link.jpg").symlink_to(tmp_path / "secret.txt")
    assert media.safe_path(root, "v1/a.jpg") == (root / "v1" / "a.jpg").resolve()
    for bad in ("../secret.txt", "v1/../../secret.txt", str(tmp_path / "secret.txt"),
                "v1/link.jpg", "", None, "v1", "v1/missing.jpg", "v1/a.jpg\x00.png"):
        assert media.safe_path(root, bad) is None, bad


def test_media_url_refuses_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import config

    monkeypatch.setattr(config, "MEDIA_BASE_URL", "http://nas.lan/archive/")
    assert media.media_url("v1/plates/a b.jpg") == "http://nas.lan/archive/v1/plates/a%20b.jpg"
    assert media.media_url("../x") is None
    assert media.media_url("/etc/passwd") is None


# --------------------------------------------------------------------------- seeded DB


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("dash")
    url = f"sqlite:///{root / 'data' / 'dashcam.db'}"
    info = seed_demo(url, root / "data" / "archive")
    info.update(url=url, data_dir=root / "data", archive=root / "data" / "archive")
    return info


@pytest.fixture
def env(seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("DASHCAM_DATA_DIR", str(seeded["data_dir"]))
    monkeypatch.setenv("DASHCAM_DATABASE_URL", seeded["url"])
    monkeypatch.setenv("DASHCAM_ARCHIVE_ROOT", str(seeded["archive"]))
    yield seeded


@pytest.fixture
def session(seeded: dict[str, Any]) -> Iterator[Session]:
    with Session(get_engine(seeded["url"])) as s:
        yield s


def test_search_queries(session: Session) -> None:
    texts = {r["text"]: r["match"] for r in queries.search_plates(session, "KXSOIZ6")}
    assert texts == {"KX5O1ZG": 1}
    assert {r["text"] for r in queries.search_plates(session, "AB123CE")} == {"AB123CD"}
    assert queries.search_plates(session, "AB123CE", fuzzy=False) == []
    assert {r["text"] for r in queries.search_plates(session, "*CD")} == {"AB123CD"}
    assert {r["text"] for r in queries.search_plates(session, "?L9*")} == {"WL900AA"}
    assert queries.search_plates(session, "*") == []
    # filters: confidence above everything, a region nowhere near, a trip
    assert queries.search_plates(session, "AB123CD", queries.SearchFilters(min_confidence=1.01)) == []
    far = queries.SearchFilters(bbox=queries.BBox(0, 0, 1, 1))
    assert queries.search_plates(session, "AB123CD", far) == []
    trip = queries.trips(session)[-1]["trip_id"]
    assert all(r["trip_id"] == trip for r in queries.search_plates(session, "AB123CD", queries.SearchFilters(trip_id=trip)))


def test_search_finds_the_readers_look_alikes(session: Session) -> None:
    """D and Q misread for 0 (and 0 for D): the reader repairs them, so search folds them too,
    as one indexed equality on the canonical form (no one-edit neighbours needed)."""
    for query in ("WL9D0AA", "WL9Q0AA", "WL9DQAA"):
        assert {r["text"]: r["match"] for r in queries.search_plates(session, query)} == {"WL900AA": 1}
        assert {r["text"] for r in queries.search_plates(session, query, fuzzy=False)} == {"WL900AA"}
    assert {r["text"]: r["match"] for r in queries.search_plates(session, "AB123C0", fuzzy=False)} == {"AB123CD": 1}
    assert plate_text.closeness("WL9D0AA", "WL900AA") == 1  # the watchlist's rule is the same


def test_user_input_is_never_sql(session: Session) -> None:
    evil = "'; DROP TABLE plate; --"
    assert queries.search_plates(session, evil) == []
    assert queries.plate_timeline(session, evil) == []
    assert queries.plates_by_text(session, "AB123CD")  # still there


def test_plate_timeline_spans_videos_and_trips(session: Session) -> None:
    rows = queries.plate_timeline(session, "AB123CD")
    assert len({r["video_id"] for r in rows}) >= 2
    assert [r["seen_at"] for r in rows] == sorted(r["seen_at"] for r in rows)
    b = queries.confidence_breakdown(rows)
    assert sum(b["histogram"].values()) == len(rows)


def test_trip_gpx(session: Session, seeded: dict[str, Any]) -> None:
    gpx = queries.trip_gpx(session, seeded["trips"][0])
    assert gpx and "<trkpt" in gpx


def test_a_trip_reads_the_same_on_the_map_in_its_gpx_and_the_cli(session: Session, seeded: dict[str, Any]) -> None:
    import gpxpy

    from tasks.trip_gps import trip_tracks

    trip = seeded["trips"][0]
    tracks = trip_tracks(session, trip)
    points = [[f.lon, f.lat] for t in tracks for f in t.valid_fixes]
    assert len(points) > 10
    assert queries.trip_route(session, trip, max_points=10**6) == points
    assert len(queries.trip_route(session, trip, max_points=10)) == 10
    gpx = gpxpy.parse(queries.trip_gpx(session, trip))
    assert len(gpx.tracks) == len(tracks)  # a <trk> per video: no line drawn between two clips
    assert [[p.longitude, p.latitude] for t in gpx.tracks for s in t.segments for p in s.points] == points


def test_watchlist_add_relabel_remove_and_near_match(session: Session) -> None:
    e = add_entry(session, "ab-123 cd", "neighbour")
    assert e.text == "AB123CD"
    assert add_entry(session, "AB123CD", "renamed").id == e.id
    assert [x.label for x in list_entries(session)] == ["renamed"]
    entries = list_entries(session)
    assert match("A8I23CD", entries)[1] == 1  # OCR-equivalent
    assert match("AB123CE", entries)[1] == 2  # one off
    assert match("ZZ999", entries) is None
    with pytest.raises(ValueError):
        add_entry(session, "--", "")
    assert remove_entry(session, e.id or 0)
    assert list_entries(session) == []


# --------------------------------------------------------------------------- pages (AppTest)


def _app(page: str | None = None, /, **params: str) -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if page:
        for k, v in params.items():
            at.query_params[k] = v
        at.switch_page(f"views/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _text(at: Any) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.caption] + [f"{m.label} {m.value}" for m in at.metric]
    parts += [str(x.value) for x in (*at.info, *at.warning, *at.error, *at.success, *at.subheader, *at.header)]
    parts += [d.value.to_csv() for d in at.dataframe]
    return "\n".join(str(p) for p in parts)


def test_home(env: dict[str, Any]) -> None:
    at = _app()
    t = _text(at)
    assert "archived" in [m.label for m in at.metric]
    assert "moov atom missing" in t  # failure with its reason
    assert env["trips"][0] in t
    assert "AB123CD" in t or "KX5O1ZG" in t


def test_videos_filters_and_empty_state(env: dict[str, Any]) -> None:
    at = _app("videos")
    t = _text(at)
    assert env["videos"][0] in t and "failed" in t
    at.selectbox(key="videos_trip").set_value(env["trips"][1]).run()
    t = _text(at)
    assert env["videos"][0] not in t and env["videos"][2] in t
    assert any(b.label.startswith("Download trip route") for b in at.get("download_button"))
    import datetime as dt

    at.date_input(key="videos_from").set_value(dt.date(2030, 1, 1)).run()
    assert "No videos match" in _text(at)


def test_video_page(env: dict[str, Any]) -> None:
    vid = env["videos"][0]
    at = _app("video", video_id=vid, t="12")
    t = _text(at)
    assert vid in t and "archived" in t
    assert at.get("video"), "the archival video is shown"
    assert at.get("deck_gl_json_chart"), "the route map is shown"
    assert at.get("image"), "crops and frames are shown"
    assert "AB123CD" in t or "KX5O1ZG" in t or "WL900AA" in t
    assert ",car," in t or ",truck," in t  # the plates table's vehicle column


def test_video_page_missing_media_and_unknown_id(env: dict[str, Any]) -> None:
    at = _app("video", video_id=env["missing_media"])
    t = _text(at)
    assert "not on the archive volume" in t and "image not in the archive" in t
    at = _app("video", video_id="nope")
    assert "No video 'nope'" in _text(at)


def test_plate_page(env: dict[str, Any]) -> None:
    at = _app("plate", text="AB123CD")
    t = _text(at)
    assert "AB123CD" in t and "Sightings" in t and "on a car" in t
    assert at.get("deck_gl_json_chart") and at.get("image")
    at = _app("plate", text="QQ000")
    assert "never seen" in _text(at)


@pytest.mark.parametrize("t", ["inf", "-inf", "nan", "-5", "1e308", "abc", "999999"])
def test_video_page_refuses_a_bad_start_time_without_a_traceback(env: dict[str, Any], t: str) -> None:
    at = _app("video", video_id=env["videos"][0], t=t)  # _app asserts no exception
    assert "is not a time in this video" in _text(at)
    assert at.get("video"), "it plays from the start instead"


def test_bad_addresses_get_a_clear_message(env: dict[str, Any]) -> None:
    at = _app("plate", plate_id="no-such-plate")
    assert "No plate 'no-such-plate'" in _text(at)
    long = "A" * 3000
    for page, key in (("plate", "text"), ("search", "q"), ("map", "text"), ("video", "video_id")):
        t = _text(_app(page, **{key: long}))
        assert "3000 characters long" in t and long not in t, page
    at = _app("search")
    for q in ("*", "?*", "A*"):
        at.text_input(key="search_q").set_value(q).run()
        assert "too broad" in _text(at), q
    assert at.text_input(key="search_q").max_chars == 32


def test_maps_carry_openstreetmap_tiles_or_nothing(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The style handed to every map: OSM's tiles with their attribution by default; with
    DASHCAM_MAP_TILE_URL=none, a style with no source at all (the browser test proves that such
    a page fetches nothing from outside)."""
    import json
    from urllib.parse import unquote

    from dashboard import config
    from dashboard.views import _ui

    def style_of(url: str) -> dict:
        assert url.startswith("data:application/json"), url[:60]  # never a URL to fetch
        return json.loads(unquote(url.split(",", 1)[1]))

    at = _app("map")
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    tiles = style_of(spec["mapStyle"])["sources"]["tiles"]
    assert tiles["tiles"] == ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"]
    assert tiles["attribution"] == "© OpenStreetMap contributors"
    monkeypatch.setattr(config, "MAP_TILE_URL", None)
    assert style_of(_ui.map_style())["sources"] == {}


def test_map_page(env: dict[str, Any]) -> None:
    at = _app("map")
    assert at.get("deck_gl_json_chart")
    assert "located sighting" in _text(at)
    at.text_input(key="map_text").set_value("ZZZ999").run()
    at.toggle(key="map_routes").set_value(False).run()
    assert "No located sightings" in _text(at)


def test_map_page_fits_the_sightings_not_a_distant_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trip driven on another continent (a route, no sightings) must not shrink the Map
    page's sightings to one dot: the view centres on them at street zoom. The Video page,
    whose route and sightings belong together, keeps fitting both."""
    import json
    from datetime import datetime

    from dashboard.seed import ORIGIN
    from models.tables import GpsPoint, Trip, Video

    url = f"sqlite:///{tmp_path / 'dashcam.db'}"
    info = seed_demo(url, tmp_path / "archive", n_trips=1, media=False)
    with Session(get_engine(url)) as s:
        s.add(
            Trip(
                trip_id="20261020-09",
                folder="far",
                camera="viofo",
                started_at=datetime(2026, 10, 20, 9),
                video_count=1,
            )
        )
        s.flush()
        s.add(
            Video(
                video_id="FAR0001",
                path="far/FAR0001.MP4",
                trip_id="20261020-09",
                recorded_at=datetime(2026, 10, 20, 9),
                has_gps=True,
                state="archived",
            )
        )
        s.flush()
        s.add_all(
            GpsPoint(
                video_id="FAR0001", offset_s=float(k), lat=-33.86 + k * 1e-4, lon=151.21 + k * 1e-4
            )
            for k in range(30)
        )  # Sydney
        s.commit()
    monkeypatch.setenv("DASHCAM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DASHCAM_DATABASE_URL", url)
    monkeypatch.setenv("DASHCAM_ARCHIVE_ROOT", str(tmp_path / "archive"))

    def view(at: Any) -> dict[str, float]:
        return json.loads(at.get("deck_gl_json_chart")[0].proto.json)["initialViewState"]

    at = _app("map")
    assert "2 route(s)" in _text(at), "the distant route is drawn"
    v = view(at)
    assert abs(v["latitude"] - ORIGIN[0]) < 0.05 and abs(v["longitude"] - ORIGIN[1]) < 0.05, v
    assert v["zoom"] >= 12, v
    at.toggle(key="map_routes").set_value(False).run()
    assert view(at) == v  # the same view with the routes off
    v = view(_app("video", video_id=info["videos"][0]))
    assert abs(v["latitude"] - ORIGIN[0]) < 0.05 and v["zoom"] >= 12, v


def test_search_page(env: dict[str, Any]) -> None:
    at = _app("search")
    assert "Type a plate text" in _text(at)
    at.text_input(key="search_q").set_value("KXSOIZ6").run()
    t = _text(at)
    assert "KX5O1ZG" in t and "OCR-equivalent" in t
    assert any(b.label == "Export CSV" for b in at.get("download_button"))
    at.text_input(key="search_q").set_value("AB1*").run()
    assert "AB123CD" in _text(at)
    at.slider(key="search_conf").set_value(1.0).run()
    assert "No plates match" in _text(at)


def test_watchlist_page_marks_everywhere(env: dict[str, Any]) -> None:
    at = _app("watchlist")
    assert "empty" in _text(at)
    at.text_input(key="watch_new_text").set_value("WL9OOAA")  # OCR-confused spelling
    at.text_input(key="watch_new_label").set_value("courier van")
    at.button[0].click().run()
    t = _text(at)
    assert "WL9OOAA" in t and "courier van" in t and "WL900AA" in t  # its near match was seen
    at = _app("search")
    at.text_input(key="search_q").set_value("WL900AA").run()
    assert "🚨 courier van" in _text(at)
    # On the map its sightings are magenta, in a layer drawn last at 8 px or more: at a city's
    # zoom every dot is at its minimum size, and the later green ones covered it.
    import json

    layers = json.loads(_app("map").get("deck_gl_json_chart")[0].proto.json)["layers"]
    hits = layers[-1]
    assert hits["radiusMinPixels"] == 8 and hits["data"], hits
    assert all(d["label"].startswith("WL900AA") and d["colour"] == [200, 0, 200, 230]
               for d in hits["data"])
    assert not any(d["hit"] for d in layers[-2]["data"])
    at = _app("watchlist")
    label = [w for w in at.text_input if w.key and w.key.startswith("watch_label_")][0]
    label.set_value("parcel van")
    [b for b in at.button if b.label == "Save"][0].click().run()
    assert "parcel van" in _text(at)
    remove = [b for b in at.button if b.label == "Remove"]
    remove[0].click().run()
    assert "empty" in _text(at)


def test_every_page_says_when_the_db_is_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHCAM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DASHCAM_DATABASE_URL", f"sqlite:///{tmp_path / 'absent' / 'dashcam.db'}")
    for page in (None, "videos", "video", "plate", "map", "search", "watchlist"):
        at = _app(page)
        assert any("unreachable" in e.value for e in at.error), page
    assert not (tmp_path / "absent" / "dashcam.db").exists()  # the dashboard created nothing


# --------------------------------------------------------------------------- links and URL state


def _links(at: Any) -> list[tuple[str, str]]:
    return [(link.proto.page, link.proto.query_string) for link in at.get("page_link")]


def test_links_stay_in_the_app_and_carry_their_parameters(env: dict[str, Any]) -> None:
    """Every in-app link is an st.page_link (same tab, same session); no markdown link or
    LinkColumn (both open a new tab) is left on any page."""
    vid = env["videos"][0]
    pages = {None: {}, "videos": {}, "video": {"video_id": vid}, "plate": {"text": "AB123CD"},
             "map": {}, "search": {"q": "AB1*"}, "watchlist": {}}
    for page, params in pages.items():
        at = _app(page, **params)
        assert not [m.value for m in at.markdown if "](" in m.value], page
        for frame in at.dataframe:
            assert "link" not in str(frame.proto.columns), page
    assert ("plate", "text=AB123CD") in _links(_app())
    video = _links(_app("video", video_id=vid))
    assert ("videos", f"trip_id={env['trips'][0]}") in video
    assert any(p == "plate" and q.startswith("text=") for p, q in video)
    plate = _links(_app("plate", text="AB123CD"))
    assert any(p == "video" and "sighting=" in q for p, q in plate)


def test_search_state_round_trips_through_the_url(env: dict[str, Any]) -> None:
    at = _app("search", q="AB1*", conf="0.5", fuzzy="0", trip=env["trips"][1])
    assert at.text_input(key="search_q").value == "AB1*"
    assert at.slider(key="search_conf").value == 0.5
    assert at.toggle(key="search_fuzzy").value is False
    assert at.selectbox(key="search_trip").value == env["trips"][1]
    at.text_input(key="search_q").set_value("KXSOIZ6").run()
    at.selectbox(key="search_trip").set_value("").run()  # "all trips" leaves the address
    assert dict(at.query_params) == {"q": "KXSOIZ6", "fuzzy": "0", "conf": "0.5"}
    assert "KX5O1ZG" in _text(at)


@pytest.mark.parametrize(("params", "note"), [
    ({"conf": "abc"}, "`conf` in the address is not a number from 0 to 1"),
    ({"conf": "inf"}, "`conf` in the address is not a number from 0 to 1"),
    ({"from": "2026-13-40"}, "`from` in the address is not a date"),
    ({"trip": "no-such-trip"}, "`trip` in the address is not one of the choices here"),
    ({"fuzzy": "maybe"}, "`fuzzy` in the address is not 0 or 1"),
])
def test_a_bad_address_value_is_ignored_with_a_note(env: dict[str, Any], params: dict, note: str) -> None:
    at = _app("search", q="AB123CD", **params)  # _app asserts no exception
    t = _text(at)
    assert note in t and "AB123CD" in t


def test_videos_paging_and_filters_in_the_url(env: dict[str, Any]) -> None:
    at = _app("videos", trip_id=env["trips"][1], state="archived")
    assert at.selectbox(key="videos_trip").value == env["trips"][1]
    t = _text(at)
    assert env["videos"][2] in t and env["videos"][0] not in t
    at = _app("videos", page="2")
    assert "No videos on page 2." in _text(at)
    assert [b.disabled for b in at.button if b.key in ("videos_prev", "videos_next")] == [False, True]


def test_video_page_plays_from_the_sighting_in_the_address(env: dict[str, Any]) -> None:
    from sqlmodel import select

    from models.tables import Sighting

    vid = env["videos"][0]
    with Session(get_engine(env["url"])) as s:
        sighting = s.exec(select(Sighting).where(Sighting.video_id == vid).order_by(Sighting.frame_s.desc())).first()
    assert sighting is not None
    at = _app("video", video_id=vid, sighting=str(sighting.id))
    assert at.selectbox(key="video_start").value == sighting.id
    assert at.get("video")[0].proto.start_time == int(sighting.frame_s)
    at = _app("video", video_id=vid, sighting="999999")
    assert "`sighting` in the address is not a sighting of this video" in _text(at)


def test_evidence_download_on_the_video_and_plate_pages(env: dict[str, Any]) -> None:
    """The button is offered for the chosen sighting (the zip itself: tests/test_evidence.py)."""
    from sqlmodel import select

    from models.tables import Sighting

    vid = env["videos"][0]
    with Session(get_engine(env["url"])) as s:
        sighting = s.exec(select(Sighting).where(Sighting.video_id == vid)).first()
        assert sighting is not None
        missing = s.exec(select(Sighting).where(Sighting.video_id == env["missing_media"])).first()
        assert missing is not None

    def evidence(at: Any) -> list[Any]:
        return [b for b in at.get("download_button") if b.proto.label.startswith("🧾 Evidence")]

    assert not evidence(_app("video", video_id=vid))  # no sighting chosen yet
    assert "Pick a sighting above" in _text(_app("video", video_id=vid))
    assert len(evidence(_app("video", video_id=vid, sighting=str(sighting.id)))) == 1
    at = _app("plate", text="AB123CD")
    assert len(evidence(at)) == 1
    chosen = at.selectbox(key="plate_evidence").value
    assert chosen is not None and "sighting" not in at.query_params  # the best one: the default
    other = next(r["id"] for r in queries.plate_timeline(Session(get_engine(env["url"])), "AB123CD")
                 if r["id"] != chosen)
    at = _app("plate", text="AB123CD", sighting=str(other))
    assert at.selectbox(key="plate_evidence").value == other
    assert at.query_params["sighting"] == str(other)
    at = _app("video", video_id=env["missing_media"], sighting=str(missing.id))
    assert not evidence(at) and "not on the archive volume" in _text(at)
