"""The dashboard in a real browser: `streamlit run` on loopback, every page in headless Chromium
at a desktop's and a phone's size, on the demo's seeded data.

Waits are on concrete things (a text, a URL, a tile request, dots on the map), never fixed
sleeps: CI's two loaded cores take from 1 to 20 s for the same page.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port, wait_for

from dashboard.launch import streamlit_command
from dashboard.seed import seed_demo
from dashcam.settings import Settings

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         # WebGL for the deck.gl maps without a GPU (software rendering, local only).
         "--enable-unsafe-swiftshader"]
SIZES = {"desktop": (1400, 900), "phone": (390, 844)}
WAIT_MS = 60_000  # one element on a loaded CI machine; a hit returns at once
OSM_TILES = "https://tile.openstreetmap.org/**"
SHOTS = Path(os.environ.get("DASHCAM_SCREENSHOTS") or tempfile.mkdtemp(prefix="dashcam-shots-"))

pytestmark = pytest.mark.slow


@contextmanager
def _streamlit(root: Path, **overrides: Any) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (infra/setup.sh does)")
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (the python driver)")
    data = root / "data"
    settings = Settings(data_dir=data, **overrides)
    info = seed_demo(settings.database_url or "", settings.archive_root or data / "archive")
    port = free_port()
    log = (root / "streamlit.log").open("wb")
    proc = subprocess.Popen(streamlit_command(settings, port), env=settings.child_env(),
                            stdout=log, stderr=subprocess.STDOUT, cwd=root)

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    try:
        wait_for(healthy, 60, "streamlit to answer", every=0.5)
        yield {**info, "url": f"http://127.0.0.1:{port}", "log": root / "streamlit.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The defaults: OpenStreetMap's tiles under the maps, open on loopback."""
    with _streamlit(tmp_path_factory.mktemp("browser")) as info:
        yield info


TILES_ASKED: list[str] = []


def _tile() -> bytes:
    """What the tile server answers in the test (this machine has no internet): a grey tile."""
    import cv2
    import numpy as np

    return cv2.imencode(".png", np.full((256, 256, 3), 210, np.uint8))[1].tobytes()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1400, "height": 900},
        )
        png = _tile()

        def tile(route: Any) -> None:
            TILES_ASKED.append(route.request.url)
            # no-store: a cached tile would skip this handler on the next page
            route.fulfill(status=200, content_type="image/png", body=png,
                          headers={"Cache-Control": "no-store"})

        ctx.route(OSM_TILES, tile)
        ctx.set_default_timeout(WAIT_MS)
        yield ctx
        ctx.close()


# --------------------------------------------------------------------------- helpers


def _idle(page: Any) -> None:
    """Streamlit finished its run (the running-man status widget is gone) and drew what it
    sent: tables, page links and figures are lazily loaded and stand as grey skeletons until
    their code arrives, which a screenshot right after the run caught."""
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')"
                           " && !document.querySelector('[data-testid=\"stSkeleton\"]')",
                           timeout=WAIT_MS)


def _visible(page: Any, text: str) -> Any:
    # Visible matches only: the data grid keeps hidden DOM copies of its cells.
    loc = page.get_by_text(text, exact=False).filter(visible=True).first
    loc.wait_for(timeout=WAIT_MS)
    return loc


def _no_traceback(page: Any) -> None:
    body = page.inner_text("body")
    assert "Traceback" not in body and 'File "/' not in body, body[:2000]


def _open(browser: Any, url: str, expect: str, size: str = "desktop") -> Any:
    page = browser.new_page()
    w, h = SIZES[size]
    page.set_viewport_size({"width": w, "height": h})
    page.goto(url, wait_until="domcontentloaded", timeout=WAIT_MS)
    _visible(page, expect)
    _idle(page)
    _no_traceback(page)
    return page


def _shot(page: Any, name: str) -> None:
    """The whole page: Streamlit scrolls inside its main block, so a full-page screenshot is
    the viewport; the viewport is stretched to the content for the shot."""
    w = page.viewport_size["width"]
    h = page.evaluate("Math.max(...[...document.querySelectorAll('[data-testid=stMain] *')]"
                      ".slice(0, 3000).map(e => e.scrollHeight), 600)")
    page.set_viewport_size({"width": w, "height": min(int(h) + 80, 6000)})
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    print(f"screenshot: {SHOTS / name}.png")


def _dots(page: Any, chart: Any) -> int:
    """Pixels of the sightings' colours (confidence 0.6-1.0: green, watchlist: magenta) on a map.

    The route is blue, its ends white and black, the test's tiles grey: none of them counts.
    """
    import cv2
    import numpy as np

    png = chart.screenshot()
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).astype(int)
    b, g, r = img[..., 0], img[..., 1], img[..., 2]
    green = (g > 140) & (r < 120) & (b < 110)
    magenta = (r > 170) & (b > 170) & (g < 80)
    return int((green | magenta).sum())


def _map_drawn(page: Any, tiles_from: int | None) -> None:
    """The page's map draws located sightings (and, with tiles, asked the tile server)."""
    chart = page.locator("[data-testid=stDeckGlJsonChart]").first
    chart.scroll_into_view_if_needed(timeout=WAIT_MS)
    chart.locator("canvas").first.wait_for(state="attached", timeout=WAIT_MS)
    wait_for(lambda: _dots(page, chart) >= 20, 60, "sightings drawn on the map", every=0.5)
    if tiles_from is not None:
        wait_for(lambda: len(TILES_ASKED) > tiles_from, 60, "a basemap tile request", every=0.5)


def _pages(info: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(name, path, text that shows the page is there, has a map) of every page."""
    vid = info["videos"][0]
    return [
        ("home", "/", "Recently seen plates", False),
        ("videos", "/videos", "Tap a video", False),
        ("video", f"/video?video_id={vid}", "Best frames", True),
        ("plate", "/plate?text=AB123CD", "What OCR read", True),
        ("map", "/map", "located sighting", True),
        ("search", "/search?q=KXSOIZ6", "Export CSV", False),
        ("watchlist", "/watchlist", "The watchlist is empty", False),
    ]


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_at_both_sizes(server: dict[str, Any], browser: Any, size: str) -> None:
    """Each page renders without a traceback, fits the width (no sideways scroll on a phone),
    and its map draws the located sightings over OpenStreetMap's tiles."""
    width = SIZES[size][0]
    for name, path, expect, has_map in _pages(server):
        t0 = time.monotonic()
        tiles_before = len(TILES_ASKED)
        page = _open(browser, server["url"] + path, expect, size)
        if has_map:
            _map_drawn(page, tiles_before)
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 2, name
        _no_traceback(page)
        _shot(page, f"{name}-{size}")
        print(f"{name} at {size}: {time.monotonic() - t0:.1f} s")
        page.close()


def _cell(page: Any, table: Any, row: int, column: int) -> None:
    """Click a cell of a data grid. It is a canvas (its hidden DOM copies take no clicks and
    have no size), so the columns' edges are read off the header row's vertical lines."""
    import cv2
    import numpy as np

    table.scroll_into_view_if_needed()
    # The canvas may not have painted its header yet when the element appears: read it again
    # until the column edges show (a fixed sleep was flaky on a loaded machine).
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        img = cv2.imdecode(np.frombuffer(table.screenshot(), np.uint8), cv2.IMREAD_GRAYSCALE)
        head = img[3:32].astype(int)  # the header row, 35 px high
        background = np.median(head)
        edges = [x for x in range(2, img.shape[1] - 2)
                 if (np.abs(head[:, x] - head[0, x]) < 3).all() and head[0, x] < background - 5]
        bounds = [0, *edges, img.shape[1]]
        if len(bounds) > column + 1 or time.monotonic() > deadline:
            break
        page.wait_for_timeout(200)
    assert len(bounds) > column + 1, f"found the edges {edges} of fewer than {column + 1} columns"
    box = table.bounding_box()
    page.mouse.click(box["x"] + (bounds[column] + bounds[column + 1]) / 2,
                     box["y"] + 35 * (row + 1) + 17)


def _same_session(page: Any, browser: Any, pages_before: int) -> None:
    """No new tab, no reload: the marker set in this document is still there."""
    assert len(browser.pages) == pages_before
    assert page.evaluate("window.__dashcam_marker") == 1


def test_links_stay_in_the_tab_and_back_works(server: dict[str, Any], browser: Any) -> None:
    from playwright.sync_api import expect

    base = server["url"]
    page = _open(browser, base + "/", "Recently seen plates")
    before = len(browser.pages)
    page.evaluate("window.__dashcam_marker = 1")

    # A table cell (Recent trips' first trip) opens the Videos page of that trip.
    trips = page.locator("[data-testid=stDataFrame]").nth(1)
    _cell(page, trips, 0, 0)
    page.wait_for_url("**/videos?trip_id=*", timeout=WAIT_MS)
    _visible(page, "Tap a video")
    _same_session(page, browser, before)
    page.go_back()
    page.wait_for_url(base + "/", timeout=WAIT_MS)
    _visible(page, "Recently seen plates")
    _same_session(page, browser, before)

    # A link (st.page_link) opens a plate; a timeline cell its video at that sighting.
    page.get_by_role("link", name="AB123CD").first.click()
    page.wait_for_url("**/plate?text=AB123CD", timeout=WAIT_MS)
    _visible(page, "What OCR read")
    _same_session(page, browser, before)
    timeline = page.locator("[data-testid=stDataFrame]").first
    _cell(page, timeline, 0, 1)
    page.wait_for_url("**/video?video_id=*&sighting=*", timeout=WAIT_MS)
    _visible(page, "Best frames")
    # playback starts at the sighting clicked
    expect(page.locator("[data-testid=stSelectbox] input").first).to_have_value(
        re.compile(r"s · AB123CD"), timeout=WAIT_MS)
    _same_session(page, browser, before)
    # The evidence of that sighting downloads (cut on click): a zip with the clip and report.
    with page.expect_download(timeout=WAIT_MS) as download:
        page.get_by_role("button", name=re.compile("Evidence")).click()
    with zipfile.ZipFile(download.value.path()) as z:
        names = {Path(n).name for n in z.namelist()}
        assert {"clip.mp4", "report.json", "report.txt"} <= names, names
        report = json.loads(next(z.read(n) for n in z.namelist() if n.endswith("report.json")))
    assert report["plate"]["text"] == "AB123CD"
    page.go_back()
    page.wait_for_url("**/plate?text=AB123CD", timeout=WAIT_MS)
    _visible(page, "What OCR read")
    page.go_back()
    page.wait_for_url(base + "/", timeout=WAIT_MS)
    _same_session(page, browser, before)
    _no_traceback(page)
    page.close()


def test_search_state_lives_in_the_url(server: dict[str, Any], browser: Any) -> None:
    """Typing and filters update the address; Back restores each step; the address alone (a
    bookmark, a shared link) opens the same search. At the phone's size."""
    base = server["url"]
    from playwright.sync_api import expect

    page = _open(browser, base + "/search", "Type a plate text", "phone")
    box = page.get_by_label("Plate text")
    box.fill("KXSOIZ6")
    box.press("Enter")
    page.wait_for_url("**/search?q=KXSOIZ6", timeout=WAIT_MS)
    _visible(page, "plate group(s) match")
    page.get_by_text("Near matches").click()
    page.wait_for_url("**/search?q=KXSOIZ6&fuzzy=0", timeout=WAIT_MS)
    _idle(page)
    page.get_by_role("link", name="KX5O1ZG (OCR-equivalent)").click()
    page.wait_for_url("**/plate?text=KX5O1ZG", timeout=WAIT_MS)
    _visible(page, "What OCR read")

    page.go_back()
    page.wait_for_url("**/search?q=KXSOIZ6&fuzzy=0", timeout=WAIT_MS)
    _visible(page, "plate group(s) match")
    expect(page.get_by_label("Plate text")).to_have_value("KXSOIZ6", timeout=WAIT_MS)
    expect(page.get_by_role("switch")).not_to_be_checked(timeout=WAIT_MS)
    page.go_back()
    page.wait_for_url("**/search?q=KXSOIZ6", timeout=WAIT_MS)
    expect(page.get_by_role("switch")).to_be_checked(timeout=WAIT_MS)  # fuzzy on again
    page.close()

    shared = _open(browser, base + "/search?q=AB1*&conf=0.5", "plate group(s) match", "phone")
    expect(shared.get_by_label("Plate text")).to_have_value("AB1*", timeout=WAIT_MS)
    shared.get_by_role("link", name="AB123CD (wildcard)").wait_for(timeout=WAIT_MS)
    shared.close()


def test_phone_toolbar_leaves_the_paging_buttons_free(server: dict[str, Any], browser: Any) -> None:
    page = _open(browser, server["url"] + "/videos", "Tap a video", "phone")
    table = page.locator("[data-testid=stDataFrame]").first
    table.hover()
    toolbar = page.locator("[data-testid=stElementToolbar]").filter(visible=True).first
    toolbar.wait_for(timeout=WAIT_MS)
    bar = toolbar.bounding_box()
    for label in ("Previous page", "Next page"):
        b = page.get_by_role("button", name=label).bounding_box()
        overlap = not (bar["x"] + bar["width"] <= b["x"] or b["x"] + b["width"] <= bar["x"]
                       or bar["y"] + bar["height"] <= b["y"] or b["y"] + b["height"] <= bar["y"])
        assert not overlap, (label, bar, b)
    page.close()


def test_bad_addresses_show_a_note_never_a_traceback(server: dict[str, Any], browser: Any) -> None:
    """What a browser showed before: `t=inf` a raw OverflowError with server paths, a
    3,000-character search echoed several screens tall. Now a short note, at the phone's size."""
    vid = server["videos"][0]
    long = "A" * 3000
    for path, note in (
        (f"/video?video_id={vid}&t=inf", "is not a time in this video"),
        ("/video?video_id=nope", "No video 'nope'"),
        ("/plate?plate_id=no-such-plate", "No plate 'no-such-plate'"),
        (f"/search?q={long}", "3000 characters long"),
        ("/search?q=*", "is too broad"),
    ):
        page = _open(browser, server["url"] + path, note, "phone")  # _open: no traceback
        assert long not in page.inner_text("body"), path[:40]
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES["phone"][0] + 2
        page.close()


def test_login_refused_then_accepted(tmp_path: Path, browser: Any) -> None:
    """A login in front of every page (DASHCAM_DASHBOARD_LOGIN=always stands in for an address
    beyond loopback, which a test must not open): a wrong password shows nothing of the archive,
    the right one opens the page that was asked for, with its address."""
    from playwright.sync_api import expect

    from dashboard.auth import hash_password

    with _streamlit(tmp_path, dashboard_login="always",
                    dashboard_password_hash=hash_password("correct horse battery")) as info:
        page = _open(browser, info["url"] + "/plate?text=AB123CD", "Log in", "phone")
        assert "AB123CD" not in page.inner_text("body")
        page.get_by_label("User name").fill("dashcam")
        page.get_by_label("Password", exact=True).fill("guess")
        page.get_by_role("button", name="Log in").click()
        _visible(page, "Wrong user name or password")
        assert "AB123CD" not in page.inner_text("body") and "Timeline" not in page.inner_text("body")
        page.get_by_label("Password", exact=True).fill("correct horse battery")
        page.get_by_role("button", name="Log in").click()
        _visible(page, "What OCR read")
        expect(page).to_have_url(re.compile(r"/plate\?text=AB123CD$"))
        _no_traceback(page)
        page.close()


def test_offline_install_fetches_nothing_from_outside(tmp_path: Path, browser: Any) -> None:
    """DASHCAM_MAP_TILE_URL=none: every page, maps included, asks only the dashboard itself,
    and the maps still draw the sightings."""
    requests: list[str] = []

    def record(request: Any) -> None:
        requests.append(request.url)

    browser.on("request", record)
    with _streamlit(tmp_path, map_tile_url="none") as info:
        for _name, path, expect, has_map in _pages(info):
            page = _open(browser, info["url"] + path, expect, "phone")
            if has_map:
                _map_drawn(page, None)
            page.close()
    browser.remove_listener("request", record)
    outside = sorted({u for u in requests if urllib.parse.urlsplit(u).hostname not in ("127.0.0.1", None)
                      and not u.startswith(("data:", "blob:"))})
    assert requests and outside == [], outside

