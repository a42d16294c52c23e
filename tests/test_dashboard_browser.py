"""The dashboard in a real browser: `streamlit run` on loopback, every page in headless chromium."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (infra/setup.sh does)")
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (the python driver)")
    root = tmp_path_factory.mktemp("browser")
    data = root / "data"
    settings = Settings(data_dir=data)
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
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
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
    assert page.get_by_text("Export CSV").count()
    page.close()

    page = _open(browser, f"{base}/watchlist", "watchlist", "Watchlist")
    page.close()

    # Phone width: the plate page still shows its content, no horizontal scroll of the page.
    page = _open(browser, f"{base}/plate?text=AB123CD", "plate-phone", "Timeline", width=390)
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    page.close()
    print(f"screenshots in {SHOTS}")
