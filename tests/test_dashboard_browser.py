"""The dashboard in a real browser: `streamlit run` on loopback, every page in headless chromium."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
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
    """The defaults: OpenStreetMap's tiles under the maps."""
    with _streamlit(tmp_path_factory.mktemp("browser")) as info:
        yield info


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        png = _tile()

        def tile(route: Any) -> None:  # the machine has no internet: a grey tile, and a note
            TILES_ASKED.append(route.request.url)
            # no-store: a cached tile would skip this handler on the next page
            route.fulfill(status=200, content_type="image/png", body=png,
                          headers={"Cache-Control": "no-store"})

        ctx.route(OSM_TILES, tile)
        yield ctx
        ctx.close()


SHOTS = Path(os.environ.get("DASHCAM_SCREENSHOTS") or tempfile.mkdtemp(prefix="dashcam-shots-"))


def _open(browser: Any, url: str, name: str, expect: str, width: int = 1280) -> Any:
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(url, wait_until="domcontentloaded", timeout=30_000)
    # Visible matches only: the data grid keeps hidden DOM copies of its cells.
    page.get_by_text(expect, exact=False).filter(visible=True).first.wait_for(timeout=30_000)
    # Let Streamlit finish the run (the status widget disappears when idle).
    page.wait_for_function(
        "!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000
    )
    time.sleep(0.5)
    shot = SHOTS / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert "Traceback" not in page.content()
    return page


def test_every_page_in_chromium(server: dict[str, Any], browser: Any) -> None:
    base = server["url"]
    vid = server["videos"][0]

    page = _open(browser, f"{base}/", "home", "Pipeline health")
    assert page.get_by_text("moov atom missing").count() or page.locator("[data-testid=stDataFrame]").count()
    assert page.get_by_text("KX5O1ZG").count() or page.get_by_text("AB123CD").count()
    page.close()

    page = _open(browser, f"{base}/videos", "videos", vid)
    page.close()

    page = _open(browser, f"{base}/video?video_id={vid}&t=10", "video", "Route and sightings")
    page.locator("video").first.wait_for(state="attached", timeout=30_000)
    page.locator("canvas").first.wait_for(state="attached", timeout=30_000)
    assert page.get_by_text("AB123CD").count() or page.get_by_text("KX5O1ZG").count()
    page.close()

    page = _open(browser, f"{base}/plate?text=AB123CD", "plate", "Timeline")
    assert page.get_by_text("AB123CD").count()
    page.locator("canvas").first.wait_for(state="attached", timeout=30_000)
    page.close()

    page = _open(browser, f"{base}/map", "map", "located sighting")
    page.locator("canvas").first.wait_for(state="attached", timeout=30_000)
    page.close()

    page = _open(browser, f"{base}/search?q=KXSOIZ6", "search", "KX5O1ZG")
    # The button comes after the result list: on a loaded machine the list can be there first.
    page.get_by_text("Export CSV").first.wait_for(timeout=30_000)
    page.close()

    page = _open(browser, f"{base}/watchlist", "watchlist", "Watchlist")
    page.close()

    # Phone width: the plate page still shows its content, no horizontal scroll of the page.
    page = _open(browser, f"{base}/plate?text=AB123CD", "plate-phone", "Timeline", width=390)
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    page.close()
    print(f"screenshots in {SHOTS}")


OSM_TILES = "https://tile.openstreetmap.org/**"
TILES_ASKED: list[str] = []


def _tile() -> bytes:
    """What the tile server answers in the test (this machine has no internet): a grey tile."""
    import cv2
    import numpy as np

    return cv2.imencode(".png", np.full((256, 256, 3), 210, np.uint8))[1].tobytes()


def test_offline_install_fetches_nothing_from_outside(tmp_path: Path, browser: Any) -> None:
    """DASHCAM_MAP_TILE_URL=none: every page, maps included, asks only the dashboard itself."""
    requests: list[str] = []

    def record(request: Any) -> None:
        requests.append(request.url)

    browser.on("request", record)
    with _streamlit(tmp_path, map_tile_url="none") as info:
        base = info["url"]
        vid = info["videos"][0]
        for path, expect in (("/map", "located sighting"), (f"/video?video_id={vid}", "Route and sightings"),
                             ("/plate?text=AB123CD", "Timeline"), ("/", "Pipeline health")):
            page = _open(browser, base + path, "offline" + path.split("?")[0].replace("/", "-"), expect)
            if path != "/":
                page.locator("canvas").first.wait_for(state="attached", timeout=30_000)
            time.sleep(1)  # a map's style and tiles load after its canvas
            page.close()
    browser.remove_listener("request", record)
    outside = sorted({u for u in requests if urllib.parse.urlsplit(u).hostname not in ("127.0.0.1", None)
                      and not u.startswith(("data:", "blob:"))})
    assert requests and outside == [], outside
