"""Progress of long command-line work, on stderr: a rich bar when stderr is a terminal, plain
lines otherwise (a log, a pipe, CI). Progress never goes to stdout: it carries the results.

    with progress(len(images), "read-plates") as p:
        for image in images:
            ...
            p.advance(note=image.name)

`advance(n, note)` counts n more items done (n=0 only changes the note: the item now being
worked on); `update(done, total, note)` sets them outright, which is what the callbacks of the
lower layers take (`tasks/` and `dashcam.ops` never import this module: they are handed
`p.update` as an `on_progress(done, total, note)` argument). `unit="B"` counts bytes.

On a terminal, lines written to stderr while the bar runs (log records included) are printed
above it; so is stdout when it is that terminal too (it then goes out on stderr's descriptor,
which on one terminal looks the same). Plain lines come at most every `every` seconds and only
when something changed, plus a final line if any came before: short work stays silent.
`plain=False` leaves the plain case to log lines the work writes anyway (sync, process).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

PLAIN_EVERY_S = 5.0


def _amount(n: int, unit: str) -> str:
    return f"{n / 1e6:.1f}" if unit == "B" else str(n)


def _duration(seconds: float) -> str:
    s = int(seconds + 0.5)
    return (
        f"{s // 3600}h{s // 60 % 60:02d}m"
        if s >= 3600
        else f"{s // 60}m{s % 60:02d}s"
        if s >= 60
        else f"{s}s"
    )


class Progress:
    """Counts done of a total (None: unknown), the current note, and how to show them."""

    def __init__(self, total: int | None, label: str, unit: str = "") -> None:
        self.label, self.unit = label, unit
        self._total = total
        self.done = 0
        self.note = ""
        self.start = time.monotonic()
        self.bar = False  # a rich bar on a terminal (else plain lines or nothing)

    @property
    def total(self) -> int | None:
        return self._total

    @total.setter
    def total(self, value: int | None) -> None:
        self.update(total=value)

    def advance(self, n: int = 1, note: str | None = None) -> None:
        """`n` more done; `note` (if given) says what is being worked on now."""
        self.update(done=self.done + n, note=note)

    def update(
        self, done: int | None = None, total: int | None = None, note: str | None = None
    ) -> None:
        """Set what is known (None keeps it); the `on_progress(done, total, note)` callback."""
        if done is not None:
            self.done = done
        if total is not None:
            self._total = total
        if note is not None:
            self.note = note
        self._show()

    def line(self, final: bool = False) -> str:
        """One plain line: `label: 120/400 (30%) note, 36s, about 84s left`."""
        elapsed = time.monotonic() - self.start
        unit = " MB" if self.unit == "B" else ""
        total = self._total
        if total:
            count = f"{_amount(self.done, self.unit)}/{_amount(total, self.unit)}{unit}"
            count += f" ({100 * self.done / total:.0f}%)"
        else:
            count = f"{_amount(self.done, self.unit)}{unit} done"
        parts = [f"{self.label}: {count}"]
        if self.note and not final:
            parts.append(f" {self.note}")
        parts.append(f", {'done in ' if final else ''}{_duration(elapsed)}")
        if not final and total and 0 < self.done < total:
            parts.append(f", about {_duration(elapsed * (total - self.done) / self.done)} left")
        return "".join(parts)

    def _show(self) -> None:
        pass

    def _close(self, failed: bool) -> None:
        pass


class _Plain(Progress):
    def __init__(
        self, total: int | None, label: str, unit: str, stream: TextIO, every: float
    ) -> None:
        super().__init__(total, label, unit)
        self.stream, self.every = stream, every
        self.last = self.start
        self.shown: tuple[Any, ...] | None = None  # the state of the last line printed
        self.lines = 0

    def _state(self) -> tuple[Any, ...]:
        return self.done, self._total, self.note

    def _show(self) -> None:
        now = time.monotonic()
        if now - self.last < self.every or self._state() == self.shown:
            return
        self._print(self.line())
        self.last = now

    def _print(self, text: str) -> None:
        self.shown = self._state()
        self.lines += 1
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: progress is never worth an error
            pass

    def _close(self, failed: bool) -> None:
        if self.lines or time.monotonic() - self.start >= self.every:
            self._print(self.line(final=not failed) + (" (stopped)" if failed else ""))


def _stream_handlers() -> list[logging.StreamHandler]:
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    return [
        h
        for lg in loggers
        for h in lg.handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]


class _Bar(Progress):
    def __init__(
        self,
        total: int | None,
        label: str,
        unit: str,
        console: Any,
        transient: bool,
        refresh_per_second: float,
    ) -> None:
        from rich import progress as rp
        from rich.table import Column

        super().__init__(total, label, unit)
        self.bar = True
        count: list[rp.ProgressColumn] = (
            [rp.DownloadColumn(), rp.TransferSpeedColumn()]
            if unit == "B"
            else [rp.MofNCompleteColumn()]
        )
        self.rich = rp.Progress(
            rp.TextColumn("[bold]{task.description}"),
            rp.BarColumn(bar_width=20),
            *count,
            rp.TaskProgressColumn(),
            rp.TimeElapsedColumn(),
            rp.TimeRemainingColumn(),
            rp.TextColumn(
                "{task.fields[note]}",
                markup=False,
                table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1),
            ),
            console=console,
            auto_refresh=refresh_per_second > 0,
            refresh_per_second=refresh_per_second or 1,
            redirect_stdout=False,  # done below, on our own terms
            redirect_stderr=False,
            transient=transient,
            expand=True,
        )
        self.task = self.rich.add_task(label, total=total, note="")
        self.console = console
        self.swapped: list[tuple[Any, str, Any]] = []  # (object, attribute, what it was)
        self.handlers: list[tuple[logging.StreamHandler, Any]] = []

    def begin(self) -> None:
        # rich's own FileProxy prints what is written above the live bar; rich's
        # redirect_stdout would also take a stdout piped elsewhere, which carries the results.
        from rich.file_proxy import FileProxy

        self.rich.start()
        old = {"stderr": sys.stderr, "stdout": sys.stdout}
        for name, stream in old.items():
            if name == "stdout" and not _isatty(stream):
                continue  # stdout to a file or pipe stays exactly as it is
            self.swapped.append((sys, name, stream))
            setattr(sys, name, FileProxy(self.console, stream))
        for h in _stream_handlers():
            for name, stream in old.items():
                if h.stream is stream and getattr(sys, name) is not stream:
                    self.handlers.append((h, stream))
                    h.setStream(getattr(sys, name))

    def _show(self) -> None:
        self.rich.update(
            self.task,
            completed=self.done,
            total=self._total,
            note=self.note,
            refresh=not self.rich.live.auto_refresh,
        )

    def _close(self, failed: bool) -> None:
        try:
            for _, name, _ in self.swapped:
                getattr(sys, name).flush()  # a last line without its newline
            if not failed:
                self.note = ""  # done: no item is being worked on
            self._show()
            self.rich.stop()
        finally:
            for h, stream in self.handlers:
                h.setStream(stream)
            for obj, name, was in self.swapped:
                setattr(obj, name, was)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


@contextmanager
def progress(
    total: int | None,
    label: str,
    *,
    unit: str = "",
    plain: bool = True,
    transient: bool = False,
    refresh_per_second: float = 4.0,
    every: float | None = None,
    stream: TextIO | None = None,
) -> Iterator[Progress]:
    """Show the progress of `total` items (None: not known yet; set `.total` later) on
    `stream` (default: sys.stderr): a rich bar when it is an interactive terminal, else a
    plain line at most every `every` seconds (default PLAIN_EVERY_S; none if `plain` is
    False). `transient`: the bar goes away at the end (for a command that prints its own
    summary next). `refresh_per_second` 0: the bar is drawn only on an update, with no drawing
    thread (for timings)."""
    stream = stream if stream is not None else sys.stderr
    every = PLAIN_EVERY_S if every is None else every
    p: Progress
    if _isatty(stream):
        from rich.console import Console

        console = Console(file=stream)
        if console.is_interactive:  # not TERM=dumb
            bar = _Bar(total, label, unit, console, transient, refresh_per_second)
            bar.begin()
            failed = True
            try:
                yield bar
                failed = False
            finally:
                bar._close(failed)
            return
    p = _Plain(total, label, unit, stream, every) if plain else Progress(total, label, unit)
    failed = True
    try:
        yield p
        failed = False
    finally:
        p._close(failed)
