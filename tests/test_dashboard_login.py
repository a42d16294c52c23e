"""The dashboard's login: hashes, who must log in, refusing to start, wrong-try limits, and the
login screen in front of every page (AppTest; the browser test logs in for real)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dashboard import auth
from dashboard.launch import streamlit_command
from dashboard.seed import seed_demo
from dashcam.settings import Settings

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def stored() -> str:
    return auth.hash_password(PASSWORD)


def test_hash_round_trip_and_only_the_hash_is_kept(stored: str) -> None:
    assert stored.startswith("scrypt:131072:8:1:") and PASSWORD not in stored and "$" not in stored
    assert auth.verify_password(PASSWORD, stored)
    assert not auth.verify_password(PASSWORD + "x", stored)
    assert not auth.verify_password("", stored)
    assert auth.hash_password(PASSWORD) != stored  # a fresh salt each time
    for bad in ("", "plain", "scrypt:1:8:1:AAAA:AAAA", "pbkdf2:1:2:3:4:5", stored.rsplit(":", 1)[0]):
        with pytest.raises(ValueError):
            auth.parse_hash(bad)


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.53", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("main-server", False), ("", False),
])
def test_loopback(address: str, loopback: bool) -> None:
    assert auth.is_loopback(address) is loopback


def test_beyond_loopback_it_refuses_to_start_without_a_password(tmp_path: Path, stored: str) -> None:
    open_lan = Settings(data_dir=tmp_path, dashboard_address="0.0.0.0")
    problem = auth.startup_problem(open_lan)
    assert problem and "DASHCAM_DASHBOARD_PASSWORD_HASH is not set" in problem
    with pytest.raises(auth.LoginConfigError, match="dashcam dashboard-password"):
        streamlit_command(open_lan, 8501)
    broken = Settings(data_dir=tmp_path, dashboard_address="0.0.0.0", dashboard_password_hash="hunter2")
    assert "is not usable" in (auth.startup_problem(broken) or "")
    ok = Settings(data_dir=tmp_path, dashboard_address="0.0.0.0", dashboard_password_hash=stored)
    assert auth.startup_problem(ok) is None and "0.0.0.0" in streamlit_command(ok, 8501)
    loopback = Settings(data_dir=tmp_path)
    assert not auth.login_required(loopback) and auth.startup_problem(loopback) is None
    assert auth.login_required(Settings(data_dir=tmp_path, dashboard_login="always"))
    assert stored in ok.secrets()  # kept out of logs like the other credentials


def test_dashcam_up_refuses_before_starting_anything(tmp_path: Path) -> None:
    from dashcam.ops.stack import Stack, StackError

    settings = Settings(data_dir=tmp_path / "data", dashboard_address="0.0.0.0")
    with pytest.raises(StackError, match="DASHCAM_DASHBOARD_PASSWORD_HASH"):
        Stack(settings).up()
    assert not (tmp_path / "data").exists()  # no volume, no DB, no server


def _cli(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dashcam.cli", *args], input=stdin, text=True,
                          capture_output=True, timeout=120, env={**os.environ, **env})


def test_cli_makes_a_hash_and_the_dashboard_command_refuses(tmp_path: Path) -> None:
    env = {"DASHCAM_DATA_DIR": str(tmp_path), "DASHCAM_DASHBOARD_ADDRESS": "0.0.0.0"}
    p = _cli("dashboard", env=env)
    assert p.returncode == 1 and "needs a login" in p.stderr and "Traceback" not in p.stderr
    p = _cli("dashboard-password", "--password-stdin", env=env, stdin=PASSWORD + "\n")
    assert p.returncode == 0, p.stderr
    name, _, value = p.stdout.strip().partition("=")
    assert name == "DASHCAM_DASHBOARD_PASSWORD_HASH" and auth.verify_password(PASSWORD, value)
    assert PASSWORD not in p.stdout
    p = _cli("dashboard-password", "--password-stdin", env=env, stdin="short\n")
    assert p.returncode == 1 and "8 to" in p.stderr


def test_wrong_tries_lock_a_source_out_doubling_and_a_right_one_clears_it() -> None:
    now = [0.0]
    lim = auth.Limiter(free=5, base_s=30, cap_s=900, clock=lambda: now[0])
    waits = [lim.failed("a") for _ in range(11)]
    assert waits == [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 900]
    assert lim.wait_s("a") == 900 and lim.wait_s("b") == 0  # other sources are not affected
    now[0] += 900
    assert lim.wait_s("a") == 0
    lim.succeeded("a")
    assert [lim.failed("a") for _ in range(6)][-1] == 30  # counted from zero again
    small = auth.Limiter(max_sources=3, clock=lambda: now[0])
    for src in "wxyz":
        small.failed(src)
    assert len(small._fails) == 3


def test_attempt_checks_and_locks_out_without_hashing(tmp_path: Path, stored: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "PER_SOURCE", auth.Limiter(free=2, base_s=60))
    monkeypatch.setattr(auth, "EVERYONE", auth.Limiter(free=50))
    s = Settings(data_dir=tmp_path, dashboard_login="always", dashboard_password_hash=stored)
    assert auth.attempt(s, "10.0.0.9", "dashcam", PASSWORD).ok
    assert not auth.attempt(s, "10.0.0.9", "someone", PASSWORD).ok  # the user name counts too
    assert auth.attempt(s, "10.0.0.9", "dashcam", "guess").message == "Wrong user name or password."
    third = auth.attempt(s, "10.0.0.9", "dashcam", "guess")
    assert "Wait 60 s" in third.message
    calls = []
    monkeypatch.setattr(auth, "verify_password", lambda *a: calls.append(a) or True)
    locked = auth.attempt(s, "10.0.0.9", "dashcam", PASSWORD)  # even the right one waits
    assert not locked.ok and "Too many wrong tries" in locked.message and calls == []
    assert auth.attempt(s, "10.0.0.10", "dashcam", PASSWORD).ok  # another source may go on


# --------------------------------------------------------------------------- the screen (AppTest)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("login")
    url = f"sqlite:///{root / 'data' / 'dashcam.db'}"
    info = seed_demo(url, root / "data" / "archive", n_trips=1, media=False)
    return {**info, "url": url, "data": root / "data"}


def _app(seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """The real app.py, first run (AppTest runs later reruns of a multipage app's page script
    directly, past app.py: the browser test logs in through the real server)."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DASHCAM_DATA_DIR", str(seeded["data"]))
    monkeypatch.setenv("DASHCAM_DATABASE_URL", seeded["url"])
    for k, v in env.items():
        monkeypatch.setenv(f"DASHCAM_{k.upper()}", v)
    monkeypatch.setattr(auth, "PER_SOURCE", auth.Limiter())
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _gate() -> None:
    """app.py's gate as a script of its own, so that AppTest reruns it."""
    import streamlit as st

    from dashboard import login
    from dashcam.settings import Settings

    settings = Settings()
    if login.allowed(settings):
        st.subheader("inside")
        login.sign_out(settings)
    else:
        login.screen(settings)


def _shown(at: Any) -> str:
    parts = [m.value for m in (*at.markdown, *at.caption, *at.error, *at.title, *at.subheader)]
    parts += [d.value.to_csv() for d in at.dataframe]
    return "\n".join(str(p) for p in parts)


def test_login_screen_refuses_then_lets_in(seeded: dict[str, Any], stored: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    at = _app(seeded, monkeypatch, dashboard_login="always", dashboard_password_hash=stored)
    plate = seeded["texts"][0]
    assert at.text_input(key="login_password").proto.type == 1  # a password field
    assert plate not in _shown(at) and not at.dataframe and not at.metric

    at = AppTest.from_function(_gate, default_timeout=30)
    at.run()
    at.text_input(key="login_user").set_value("dashcam")
    at.text_input(key="login_password").set_value("wrong")
    at.button[0].click().run()
    assert "Wrong user name or password" in _shown(at) and "inside" not in _shown(at)
    at.text_input(key="login_password").set_value(PASSWORD)
    at.button[0].click().run()
    assert not at.exception and "inside" in _shown(at)
    at.sidebar.button(key="logout").click().run()
    assert at.text_input(key="login_password") and "inside" not in _shown(at)


def test_beyond_loopback_without_a_password_the_app_shows_nothing(
        seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(seeded, monkeypatch, dashboard_address="0.0.0.0")
    assert "This dashboard is locked" in _shown(at) and not at.dataframe
    assert not at.text_input  # no form to guess at either


def test_loopback_stays_open(seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(seeded, monkeypatch)
    assert "Pipeline health" in [s.value for s in at.subheader]


def test_no_pages_folder_beside_the_app() -> None:
    """Beside a `pages/` folder, a fresh Streamlit server runs its first request the old
    multipage way: the requested page's script alone, past app.py and its login (the browser
    test's first request, /plate, showed the plate that way)."""
    assert not (Path(APP).parent / "pages").exists()
