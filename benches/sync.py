"""`dashcam bench sync`: our Wi-Fi sync against plain curl, and the cost of a sync with no camera.

Both download the same files from the same emulated camera (harness/fake_camera.py, a real HTTP
server on 127.0.0.1 that serves with sendfile so it is not the bottleneck) in the same run,
alternating who goes first. Figures are printed; tests/test_sync.py asserts behaviour.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from dashcam.cli.progress import progress
from harness import fake_camera as fc
from tasks.sync import SyncConfig, sync

ROUNDS = 5  # medians: the host may be shared
NOOP_RUNS = 3


def _mbps(total: int, seconds: float) -> float:
    return total / seconds / 1e6 if seconds > 0 else float("inf")


def _curl(curl: str, urls: list[str], out: Path) -> float:
    """One curl process fetching every URL (keep-alive), as a person would script it."""
    args = [curl, "--silent", "--show-error", "--fail"]
    for i, url in enumerate(urls):
        args += ["-o", str(out / f"{i}.mp4"), url]
    t = time.perf_counter()
    subprocess.run(args, check=True)
    return time.perf_counter() - t


def _ours(address: str, raw: Path, expected: int) -> float:
    t = time.perf_counter()
    result = sync(SyncConfig(address, max_disk_percent=None), raw)
    seconds = time.perf_counter() - t
    if len(result.downloaded) != expected or result.failed:
        raise SystemExit(f"bench sync: our sync did not fetch every file: {result.summary}")
    return seconds


def bench_sync(files: int = 5, size_mb: int = 50) -> None:
    """Print our sync's throughput vs curl's on loopback, and the no-camera cost."""
    curl = shutil.which("curl")
    total = files * size_mb * (1 << 20)
    when = datetime.now().replace(microsecond=0) - timedelta(hours=1)
    with tempfile.TemporaryDirectory(prefix="dashcam-bench-sync-") as tmp_s:
        tmp = Path(tmp_s)
        card = []
        for i in range(files):
            src = tmp / f"src-{i}.bin"
            src.write_bytes(fc.blob(size_mb << 20, seed=i))
            stamp = when + timedelta(minutes=i)
            card.append(fc.FakeFile(fc.viofo_name(stamp, i + 1), source=src, time=stamp))
        curl_s: list[float] = []
        ours_s: list[float] = []
        with fc.FakeCamera(card) as cam:
            urls = [cam.url(f) for f in card]
            print(
                f"sync bench: {files} files x {size_mb} MB from the fake camera at {cam.address} "
                f"(loopback, {ROUNDS} rounds, alternating order)"
            )
            runs = ROUNDS * (2 if curl else 1)
            with progress(runs, "bench sync") as bar:
                for r in range(ROUNDS):
                    order = ["curl", "ours"] if r % 2 == 0 else ["ours", "curl"]
                    for who in order:
                        if who == "curl" and not curl:
                            continue
                        bar.advance(0, note=f"round {r + 1}/{ROUNDS}: {who}")
                        out = tmp / f"{who}-{r}"
                        out.mkdir()
                        if who == "curl" and curl:
                            curl_s.append(_curl(curl, urls, out))
                            got = sum(p.stat().st_size for p in out.iterdir())
                            if got != total:
                                raise SystemExit(f"bench sync: curl fetched {got} of {total} bytes")
                        elif who == "ours":
                            ours_s.append(_ours(cam.address, out, files))
                        shutil.rmtree(out)  # keep the disk footprint to one copy at a time
                        bar.advance()
        ours = _mbps(total, statistics.median(ours_s))
        print(
            f"  dashcam sync  median {ours:7.0f} MB/s  (best {_mbps(total, min(ours_s)):.0f}; "
            "listing, fsync of every file and rename included)"
        )
        if curl_s:
            theirs = _mbps(total, statistics.median(curl_s))
            ratio = ours / theirs
            print(
                f"  curl          median {theirs:7.0f} MB/s  (best {_mbps(total, min(curl_s)):.0f}; no fsync)"
            )
            verdict = "ok" if ratio >= 0.9 else "BELOW GOAL"
            print(f"  ours / curl   {ratio:7.0%}  (goal >= 90%: {verdict})")
        else:
            print("  curl          not found on PATH: install curl for the comparison")

    cfg = SyncConfig("127.0.0.1:9")
    print(f"camera away (connect_timeout {cfg.connect_timeout:g} s, one attempt):")
    with tempfile.TemporaryDirectory(prefix="dashcam-bench-sync-") as raw_s:
        raw = Path(raw_s)
        with fc.silent_host() as address:
            silent = [_noop(address, raw) for _ in range(NOOP_RUNS)]
        refused = [_noop(fc.closed_port(), raw) for _ in range(NOOP_RUNS)]
    verdict = "ok" if max(silent) < 1.0 else "ABOVE GOAL"
    print(
        f"  silent address (SYNs dropped, the car is away)  median {statistics.median(silent):.3f} s, "
        f"max {max(silent):.3f} s  (goal < 1 s: {verdict})"
    )
    print(
        f"  refused (host up, nothing listening)            median {statistics.median(refused):.4f} s, "
        f"max {max(refused):.4f} s"
    )


def _noop(address: str, raw: Path) -> float:
    t = time.perf_counter()
    result = sync(SyncConfig(address), raw)
    seconds = time.perf_counter() - t
    if result.reachable:
        raise SystemExit(f"bench sync: {address} answered, expected no camera there")
    return seconds


if __name__ == "__main__":
    bench_sync()
