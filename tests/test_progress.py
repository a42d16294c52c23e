"""The CLI's progress (dashcam/cli/progress.py): plain lines on stderr off a terminal, a rich bar
on one (a pseudo-terminal here), and stdout left to the results either way."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from dashcam.cli import progress as progress_mod
from dashcam.cli.progress import progress
from harness.fake_camera import FakeCamera, FakeFile, blob, viofo_name
from tasks.sync import SyncConfig, sync

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[")


def test_plain_lines_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with progress(4, "read-plates", every=0) as p:
        assert not p.bar
        for i in range(4):
            print(f'{{"image": {i}}}')  # a result
            p.advance(note=f"img{i}.jpg")
    out, err = capsys.readouterr()
    assert out.splitlines() == [f'{{"image": {i}}}' for i in range(4)]  # stdout: results only
    lines = err.splitlines()
    assert lines[0].startswith("read-plates: 1/4 (25%) img0.jpg, 0s")
    assert "3/4 (75%) img2.jpg" in lines[2]
    assert lines[-1] == "read-plates: 4/4 (100%), done in 0s"
    assert not ANSI.search(err) and "━" not in err


def test_plain_lines_are_spaced_and_short_work_is_silent() -> None:
    err = io.StringIO()
    with progress(1000, "bench", stream=err) as p:  # the default spacing: seconds
        for _ in range(1000):
            p.advance()
    assert err.getvalue() == ""
    err = io.StringIO()
    with progress(None, "sync", unit="B", every=0, stream=err) as p:
        p.update(3_000_000, 6_000_000, "file 1/2 A.MP4")
        p.update(3_000_000, 6_000_000, "file 1/2 A.MP4")  # unchanged: no second line
        p.total = 9_000_000
    assert err.getvalue().splitlines()[:2] == [
        "sync: 3.0/6.0 MB (50%) file 1/2 A.MP4, 0s, about 0s left",
        "sync: 3.0/9.0 MB (33%) file 1/2 A.MP4, 0s, about 0s left",
    ]
    err = io.StringIO()
    with progress(3, "process", plain=False, every=0, stream=err) as p:
        p.advance(3)
    assert err.getvalue() == ""


def test_a_failure_says_where_it_stopped() -> None:
    err = io.StringIO()
    with pytest.raises(RuntimeError), progress(5, "bench video", every=0, stream=err) as p:
        p.advance(2, note="clip 3")
        raise RuntimeError("boom")
    assert err.getvalue().splitlines()[-1].startswith("bench video: 2/5 (40%) clip 3")
    assert err.getvalue().rstrip().endswith("(stopped)")


def test_plain_spacing_default_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_mod, "PLAIN_EVERY_S", 0.0)
    err = io.StringIO()
    with progress(2, "read-plates", stream=err) as p:
        p.advance()
    assert err.getvalue().startswith("read-plates: 1/2 (50%)")


CHILD = textwrap.dedent(
    """
    import logging, sys, time
    from dashcam.cli.progress import progress
    logging.basicConfig(level=logging.INFO, format="LOG %(message)s")
    with progress(3, "demo") as p:
        for i in range(3):
            print(f"result {i}", flush=True)
            logging.info("step %d", i)
            p.advance(note=f"item{i}")
            time.sleep(0.05)
    print("bar:", p.bar)
    """
)


def _on_a_pty(stdout_too: bool) -> tuple[str, str]:
    """Run CHILD with stderr (and stdout if `stdout_too`) on a pseudo-terminal."""
    master, slave = pty.openpty()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_INTERACTIVE", "TTY_COMPATIBLE")
    }
    env.update(TERM="xterm-256color", COLUMNS="120", PYTHONIOENCODING="utf-8", PYTHONPATH=str(ROOT))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdout=slave if stdout_too else subprocess.PIPE,
        stderr=slave,
        env=env,
        cwd=ROOT,
    )
    os.close(slave)
    got: list[bytes] = []
    out: list[bytes] = []
    reader = None
    if child.stdout is not None:
        reader = threading.Thread(target=lambda: out.append(child.stdout.read()))  # type: ignore[union-attr]
        reader.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            got.append(data)
        elif child.poll() is not None:
            break
    child.wait(timeout=30)
    os.close(master)
    if reader is not None:
        reader.join(timeout=30)
    assert child.returncode == 0, b"".join(got).decode(errors="replace")
    return b"".join(out).decode(), b"".join(got).decode(errors="replace")


def test_a_rich_bar_on_a_terminal_and_stdout_untouched() -> None:
    out, tty = _on_a_pty(stdout_too=False)
    assert out.splitlines() == ["result 0", "result 1", "result 2", "bar: True"]  # no escapes
    assert ANSI.search(tty) and "━" in tty and "3/3" in tty  # the bar, drawn
    assert "LOG step 2" in tty  # log records printed above the bar


def test_stdout_on_the_same_terminal_goes_above_the_bar() -> None:
    _, tty = _on_a_pty(stdout_too=True)
    for i in range(3):
        assert f"result {i}" in tty
    assert "━" in tty and "bar: True" in tty


def test_sync_tells_its_progress(tmp_path: Path) -> None:
    when = datetime(2024, 1, 1, 12, 0)
    files = [FakeFile(viofo_name(when, i), data=blob(300_000, i), time=when) for i in (1, 2)]
    seen: list[tuple[int, int, str]] = []
    with FakeCamera(files) as cam:
        result = sync(
            SyncConfig(cam.address, max_disk_percent=None),
            tmp_path,
            on_progress=lambda done, total, note: seen.append((done, total, note)),
        )
    assert len(result.downloaded) == 2
    assert seen[0] == (0, 600_000, f"file 1/2 {files[0].name}")
    assert seen[-1] == (600_000, 600_000, f"file 2/2 {files[1].name}")
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
