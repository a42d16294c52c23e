"""`dashcam bench search`: latency of the dashboard's search and Plate page on a large archive."""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session

from dashboard import queries
from dashboard.seed import generate_large
from dashcam.cli.progress import progress
from models.db import get_engine
from tasks.plate_text import DIGIT_TO_LETTER, LETTER_TO_DIGIT

GOAL_P95_MS = 50.0


def _confuse(text: str, rnd: random.Random) -> str:
    """A query as a person would type what OCR might have read: one confusion, one typo."""
    swap = DIGIT_TO_LETTER | LETTER_TO_DIGIT
    chars = list(text)
    i = rnd.randrange(len(chars))
    chars[i] = swap.get(chars[i], "X" if chars[i] != "X" else "Y")
    return "".join(chars)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
    return statistics.median(s), p95


def _time(fn: Callable[[str], object], queries_: list[str]) -> list[float]:
    out = []
    for q in queries_:
        t = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def bench_search(
    sightings: int = 1_000_000, plates: int = 100_000, runs: int = 200, db_path: Path | None = None
) -> None:
    """Generate (or reuse, via DASHCAM_BENCH_DB) a big SQLite archive and time the queries."""
    db_path = db_path or (Path(os.environ["DASHCAM_BENCH_DB"]) if os.environ.get("DASHCAM_BENCH_DB") else None)
    tmp = None
    if db_path is None:
        tmp = tempfile.TemporaryDirectory(prefix="dashcam-bench-")
        db_path = Path(tmp.name) / "bench.db"
    url = f"sqlite:///{db_path}"
    # Generating (when there is no DB yet) has no count; then the four timed query kinds. Drawn
    # only when told (refresh 0): no redraw thread competes with the latencies measured.
    with progress(None, "bench search", refresh_per_second=0) as bar:
        fresh = not db_path.exists()
        if fresh:
            bar.advance(0, note=f"generating {sightings:,} sightings")
            t = time.perf_counter()
            info = generate_large(url, sightings=sightings, plates=plates)
            print(f"generated {sightings:,} sightings / {plates:,} plates in {time.perf_counter() - t:.0f} s")
            texts = info["texts"]
        else:
            with get_engine(url).connect() as conn:
                texts = [r[0] for r in conn.exec_driver_sql("SELECT text FROM plate LIMIT 5000")]
        rnd = random.Random(3)
        sample = [rnd.choice(texts) for _ in range(runs)]
        fuzzy_q = [_confuse(t, rnd) for t in sample]
        wild_q = [t[:2] + "?" + t[3:-2] + "*" for t in sample]
        # No literal prefix: the worst case, a scan of the canonical-text index.
        leading_q = ["*" + t[2:5] + "*" for t in sample]
        with Session(get_engine(url)) as s:

            def fuzzy(q: str) -> object:
                return queries.search_plates(s, q)

            def wildcard(q: str) -> object:
                return queries.search_plates(s, q)

            def plate_page(q: str) -> object:
                timeline = queries.plate_timeline(s, q)
                queries.plates_by_text(s, q)
                queries.plate_crops(s, q)
                return queries.confidence_breakdown(timeline)

            for fn, qs in ((fuzzy, fuzzy_q[:5]), (wildcard, wild_q[:5]), (wildcard, leading_q[:5]), (plate_page, sample[:5])):
                _time(fn, qs)  # warm the page cache, as a running dashboard has
            timed = {
                "fuzzy search": (fuzzy, fuzzy_q),
                "wildcard search": (wildcard, wild_q),
                "wildcard *abc*": (wildcard, leading_q),
                "plate page": (plate_page, sample),
            }
            bar.update(total=len(timed))
            results = {}
            for name, (fn, qs) in timed.items():
                bar.advance(0, note=f"{name}, {len(qs)} queries")
                results[name] = _time(fn, qs)
                bar.advance()
    print(f"{'query':<16} {'p50 ms':>8} {'p95 ms':>8}  (goal p95 <= {GOAL_P95_MS:.0f} ms, {runs} runs)")
    for name, samples in results.items():
        p50, p95 = _percentiles(samples)
        flag = "ok" if p95 <= GOAL_P95_MS else "SLOW"
        print(f"{name:<16} {p50:8.1f} {p95:8.1f}  {flag}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    bench_search()
