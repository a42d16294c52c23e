"""A real HTTP server on 127.0.0.1 that behaves like a Novatek dashcam (Viofo and many others).

It serves the file list at `/?custom=1&cmd=3015&par=1` (XML `LIST/ALLFile/File` entries with
NAME, FPATH, SIZE, TIMECODE, TIME, ATTR) and each file by its path (`A:\\DCIM\\Movie\\X.MP4` is
`/DCIM/Movie/X.MP4`), with switches for the ways real cameras misbehave: no Range support, a
connection dropped in the middle of a file, the whole camera vanishing (or stalling) mid-sync, a
listed file that 404s, unescaped `&` in the XML, an HTML error page instead of the list.

Used by tests/test_sync.py and `dashcam bench sync` (benches/sync.py); nothing here is test-framework specific.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE_MP4S = [SHARED_DATA / "videos" / "garmin_mini2" / f"sample-{i}.mp4" for i in (1, 2, 3)]

LISTING_QUERY = "/?custom=1&cmd=3015&par=1"
_REAL_SIZE = object()  # FakeFile.listed_size default: list the real size


def blob(size: int, seed: int = 0) -> bytes:
    """Deterministic incompressible bytes (a stand-in for a big clip)."""
    return random.Random(seed).randbytes(size)


@dataclass
class FakeFile:
    """One file on the fake camera's SD card."""

    name: str
    folder: str = "Movie"  # under DCIM: "Movie", "Movie/RO", "Movie/Parking", "EMR", ...
    data: bytes | None = None  # the content, or
    source: Path | None = None  # a file on disk holding it (served with sendfile, for benches)
    attr: int = 32  # 32 = archive bit (normal); 33 = + read-only (locked/event)
    time: datetime | None = None  # the listing's TIME field; None omits it
    listed_size: object = _REAL_SIZE  # int to lie in the listing, None to omit SIZE
    missing: bool = False  # listed, but GET answers 404 (card changed under the listing)
    omit_fpath: bool = False

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.source is not None, f"{self.name}: give data or source"
        return self.source.stat().st_size

    @property
    def url_path(self) -> str:
        return f"/DCIM/{self.folder}/{self.name}"

    @property
    def fpath(self) -> str:
        return "A:\\DCIM\\" + self.folder.replace("/", "\\") + "\\" + self.name

    def content(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.source is not None
        return self.source.read_bytes()


@dataclass
class Request:
    """What the camera saw: one request and how much of the body it sent."""

    method: str
    path: str  # decoded URL path (or the raw target for the listing)
    range: str | None
    status: int = 0
    sent: int = 0  # body bytes actually written
    complete: bool = False  # the whole promised body went out


@dataclass
class FakeCamera:
    files: list[FakeFile]
    range_support: bool = True
    # Drop the connection in the first `drop_first` GETs of each file, after `drop_after` body
    # bytes (default: half of what that response promised).
    drop_first: int = 0
    drop_after: int | None = None
    # The camera leaves (car drives off) once this many file body bytes went out in total:
    # listener closed, the connection in flight cut. With `stall`, it just goes silent instead.
    vanish_after: int | None = None
    stall: bool = False
    listing_html: bool = False  # answer the list with an HTML error page (HTTP 200)
    listing_body: bytes | None = None  # serve exactly these bytes as the list
    escape_xml: bool = True  # False: names go into the XML raw, as some firmware does
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}
        self._file_bytes = 0
        self._released = threading.Event()
        self._port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---
    def start(self) -> FakeCamera:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.camera = self
        self._server = server
        self._port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the listener (new connections are refused) and release stalled handlers."""
        self._released.set()
        self._close_listener()

    def __enter__(self) -> FakeCamera:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The camera's port (still known after it vanished, so tests can address it)."""
        server = self._server
        return server.server_address[1] if server is not None else self._port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, f: FakeFile) -> str:
        return f"http://{self.address}{quote(f.url_path, safe='/')}"

    # --- what happened ---
    def gets(self, f: FakeFile) -> list[Request]:
        return [r for r in self.requests if r.method == "GET" and r.path == f.url_path]

    def body_bytes(self, f: FakeFile) -> int:
        return sum(r.sent for r in self.gets(f))

    def listing_requests(self) -> int:
        return sum(1 for r in self.requests if r.path.startswith("/?"))

    # --- the API ---
    def listing_xml(self) -> bytes:
        def esc(s: str) -> str:
            return escape(s) if self.escape_xml else s

        parts = ['<?xml version="1.0" encoding="UTF-8" ?>\n<LIST>\n']
        for i, f in enumerate(self.files):
            parts.append("<ALLFile><File>\n")
            parts.append(f"<NAME>{esc(f.name)}</NAME>\n")
            if not f.omit_fpath:
                parts.append(f"<FPATH>{esc(f.fpath)}</FPATH>\n")
            size = f.size if f.listed_size is _REAL_SIZE else f.listed_size
            if size is not None:
                parts.append(f"<SIZE>{size}</SIZE>\n")
            parts.append(f"<TIMECODE>{1000000000 + i}</TIMECODE>\n")
            if f.time is not None:
                parts.append(f"<TIME>{f.time:%Y/%m/%d %H:%M:%S}</TIME>\n")
            parts.append(f"<ATTR>{f.attr}</ATTR></File>\n</ALLFile>\n")
        parts.append("</LIST>\n")
        return "".join(parts).encode("utf-8")

    def _handle(self, h: _Handler) -> None:
        target = h.path
        req = Request("GET", target, h.headers.get("Range"))
        with self._lock:
            self.requests.append(req)
        split = urlsplit(target)
        if split.path == "/" and split.query:
            query = parse_qs(split.query)
            if query.get("cmd") == ["3015"]:
                if self.listing_html:
                    return self._send(
                        h, req, 200, b"<html><body><h1>Error</h1></body></html>", "text/html"
                    )
                body = self.listing_body if self.listing_body is not None else self.listing_xml()
                return self._send(h, req, 200, body, "text/xml")
            cmd = query.get("cmd", ["?"])[0]
            return self._send(
                h,
                req,
                200,
                f'<?xml version="1.0" encoding="UTF-8" ?>\n'
                f"<Function>\n<Cmd>{cmd}</Cmd>\n<Status>0</Status>\n</Function>\n".encode(),
                "text/xml",
            )
        path = unquote(split.path, encoding="utf-8", errors="surrogateescape")
        req.path = path
        f = next((f for f in self.files if f.url_path == path and not f.missing), None)
        if f is None:
            return self._send(h, req, 404, b"<html><body>404 Not Found</body></html>", "text/html")
        self._send_file(h, req, f)

    def _send(self, h: _Handler, req: Request, status: int, body: bytes, ctype: str) -> None:
        req.status = status
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
        req.sent, req.complete = len(body), True

    def _send_file(self, h: _Handler, req: Request, f: FakeFile) -> None:
        size = f.size
        start, end = 0, size - 1
        status = 200
        if self.range_support and req.range:
            parsed = _parse_range(req.range, size)
            if parsed is None:
                req.status = 416
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{size}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                req.complete = True
                return
            start, end = parsed
            status = 206
        length = end - start + 1
        with self._lock:
            attempt = self._attempts[f.url_path] = self._attempts.get(f.url_path, 0) + 1
        # How much of this body goes out before the fault (None: all of it).
        limit: int | None = None
        if attempt <= self.drop_first:
            limit = self.drop_after if self.drop_after is not None else length // 2
        vanish_in: int | None = None
        if self.vanish_after is not None:
            with self._lock:
                vanish_in = max(0, self.vanish_after - self._file_bytes)
            if vanish_in < length and (limit is None or vanish_in < limit):
                limit = vanish_in
            else:
                vanish_in = None
        req.status = status
        h.send_response(status)
        h.send_header("Content-Type", "video/mp4")
        h.send_header("Content-Length", str(length))
        if self.range_support:
            h.send_header("Accept-Ranges", "bytes")
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        h.end_headers()
        count = length if limit is None else min(limit, length)
        try:
            self._write_body(h, f, start, count, req)
        except OSError:  # the client went away: nothing more to do
            h.close_connection = True
            return
        if count == length:
            req.complete = True
            return
        h.close_connection = True
        if vanish_in is not None:
            self._close_listener()
            if self.stall:  # gone silent (out of Wi-Fi range): no FIN, no RST, the client times out
                self._released.wait(30)
        _abort(h.connection)

    def _write_body(self, h: _Handler, f: FakeFile, start: int, count: int, req: Request) -> None:
        if f.data is not None:
            view = memoryview(f.data)[start : start + count]
            step = 1 << 20
            for off in range(0, count, step):
                piece = view[off : off + step]
                h.wfile.write(piece)
                req.sent += len(piece)
                with self._lock:
                    self._file_bytes += len(piece)
            return
        assert f.source is not None
        with open(f.source, "rb") as src:  # kernel copy: the camera must not be the bottleneck
            sent = h.connection.sendfile(src, start, count)
        req.sent += sent
        with self._lock:
            self._file_bytes += sent

    def _close_listener(self) -> None:
        """Synchronously: once this returns, a new connection is refused."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            self._port = server.server_address[1]


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """`bytes=N-`, `bytes=N-M`, `bytes=-K` -> inclusive (start, end); None when unsatisfiable."""
    spec = value.strip().removeprefix("bytes=").split(",")[0].strip()
    first, _, last = spec.partition("-")
    if not first:
        k = int(last)
        return (max(0, size - k), size - 1) if k > 0 and size else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start < size and start <= end else None


def _abort(conn: socket.socket) -> None:
    """Cut the connection like a camera dropping off Wi-Fi would (the client sees EOF/reset)."""
    with suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    camera: FakeCamera

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # aborted connections are the point of this server; keep test output clean


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the cameras (and curl with many URLs) use
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.camera._handle(self)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


# --- ready-made cards ---


def viofo_name(when: datetime, counter: int, flags: str = "F") -> str:
    return f"{when:%Y_%m%d_%H%M%S}_{counter:05d}{flags}.MP4"


def sample_card(when: datetime, big: int = 0) -> list[FakeFile]:
    """A typical card: real MP4 bytes as front/rear/parking/locked clips, plus `big` blob clips."""
    mp4s = [p.read_bytes() for p in SAMPLE_MP4S]
    t = when
    files = [
        FakeFile(viofo_name(t, 1, "F"), data=mp4s[0], time=t),
        FakeFile(viofo_name(t, 2, "R"), data=mp4s[1], time=t),
        FakeFile(viofo_name(t.replace(minute=(t.minute + 1) % 60), 3, "F"), data=mp4s[2], time=t),
        FakeFile(
            viofo_name(t.replace(minute=(t.minute + 2) % 60), 4, "PF"),
            folder="Movie/Parking",
            data=mp4s[0],
            time=t,
        ),
        FakeFile(
            viofo_name(t.replace(minute=(t.minute + 3) % 60), 5, "EF"),
            folder="Movie/RO",
            data=mp4s[1],
            attr=33,
            time=t,
        ),
    ]
    for i in range(big):
        files.append(
            FakeFile(
                viofo_name(t.replace(minute=(t.minute + 4 + i) % 60), 6 + i, "F"),
                data=blob(3 << 20, seed=i),
                time=t,
            )
        )
    return files


@contextmanager
def silent_host() -> Iterator[str]:
    """An address whose SYNs are dropped, like a camera that is not there (no RST, no answer).

    A listening socket with a full accept queue makes Linux drop further SYNs, so connecting to
    it hangs until the client's own timeout, on loopback, without touching any other address.
    """
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):  # fill the accept queue until a connect no longer completes
            s = socket.socket()
            s.settimeout(0.2)
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                s.close()
                break
            fillers.append(s)
        yield f"127.0.0.1:{port}"
    finally:
        for s in fillers:
            s.close()
        lsock.close()


def closed_port() -> str:
    """An address where nothing listens (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"127.0.0.1:{port}"
