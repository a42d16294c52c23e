"""The camera's file list: `CameraFile` and `parse_file_list` for the Novatek cmd=3015 answer
(tolerant of unescaped names, cut-short lists and missing fields), and `list_camera_files`,
which fetches and parses it."""

from __future__ import annotations

import html
import http.client
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from pathlib import PureWindowsPath

from tasks.naming import parse_clip_name
from tasks.sync.config import parse_address
from tasks.sync.connection import CameraError, connect

log = logging.getLogger(__name__)

LISTING_PATH = "/?custom=1&cmd=3015&par=1"
_LISTING_MAX = 64 << 20  # a list bigger than this is not a dashcam's


@dataclass(frozen=True)
class CameraFile:
    name: str  # as listed (NAME, else the last part of FPATH)
    url_path: str  # decoded path on the camera, e.g. "/DCIM/Movie/RO/2024_0101_120000_00001F.MP4"
    size: int | None  # as listed; None when the camera left SIZE out
    time: datetime | None  # camera clock: from the name, else the TIME field
    attr: int | None  # FAT attributes: 32 normal, 33 read-only (locked)
    channel: str | None  # "F", "R", "I" where the name says
    kind: str  # "normal", "event", "parking" (name flags or folder)
    fpath: str = ""

    @property
    def locked(self) -> bool:
        return self.kind == "event" or bool((self.attr or 0) & 1)


def _fields_from_xml(text: str) -> list[dict[str, str]] | None:
    try:
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError, UnicodeError):
        return None
    out = []
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.lower() == "file":
            out.append(
                {c.tag.upper(): (c.text or "").strip() for c in el if isinstance(c.tag, str)}
            )
    return out


_FILE_BLOCK = re.compile(r"<File\s*>(.*?)</File\s*>", re.IGNORECASE | re.DOTALL)
_FIELD = re.compile(r"<([A-Za-z_]+)\s*>(.*?)</\1\s*>", re.DOTALL)


def _fields_from_text(text: str) -> list[dict[str, str]]:
    """Fallback for firmware that writes names unescaped (a bare `&` breaks a strict parser)."""
    return [
        {k.upper(): html.unescape(v).strip() for k, v in _FIELD.findall(block)}
        for block in _FILE_BLOCK.findall(text)
    ]


def _int(value: str | None) -> int | None:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if n >= 0 else None


def _parse_time(value: str | None) -> datetime | None:
    for fmt in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y%m%d%H%M%S"):
        try:
            return datetime.strptime((value or "").strip(), fmt)
        except ValueError:
            continue
    return None


def _url_path(fpath: str, name: str) -> str:
    if not fpath:
        return "/DCIM/Movie/" + name  # where Novatek cameras keep normal clips
    p = re.sub(r"^[A-Za-z]:", "", fpath.replace("\\", "/"))
    return p if p.startswith("/") else "/" + p


def _camera_file(fields: dict[str, str]) -> CameraFile | None:
    fpath = fields.get("FPATH", "")
    name = fields.get("NAME") or (PureWindowsPath(fpath).name if fpath else "")
    if not name:
        return None
    attr = _int(fields.get("ATTR"))
    parsed = parse_clip_name(fpath or name)  # FPATH carries the RO/Parking folder hint
    when = parsed.recorded_at or _parse_time(fields.get("TIME"))
    return CameraFile(
        name=name,
        url_path=_url_path(fpath, name),
        size=_int(fields.get("SIZE")),
        time=when,
        attr=attr,
        channel=parsed.channel,
        kind=parsed.kind,
        fpath=fpath,
    )


def parse_file_list(body: bytes, source: str = "camera") -> list[CameraFile]:
    """Parse a cmd=3015 answer. Odd names and missing fields are tolerated; entries with neither
    NAME nor FPATH are dropped with a warning; an answer that is not the list raises CameraError."""
    # surrogateescape: a name in a legacy encoding keeps its exact bytes for the URL and the disk
    text = body.decode("utf-8", "surrogateescape")
    entries = _fields_from_xml(text)
    if entries is None:
        entries = _fields_from_text(text)
    if not entries and not re.search(r"<\s*LIST\b", text, re.IGNORECASE):
        head = re.sub(r"\s+", " ", text[:80])
        raise CameraError(
            f"{source}: the file list ({LISTING_PATH}) is not the Novatek XML list (it starts "
            f"{head!r}); check the address is a Novatek-API camera (Viofo and others) and that "
            "its Wi-Fi file access is on"
        )
    out = []
    for fields in entries:
        f = _camera_file(fields)
        if f is None:
            log.warning("%s: file list entry without NAME or FPATH ignored: %s", source, fields)
        else:
            out.append(f)
    return out


def _fetch_listing(host: str, port: int, connect_timeout: float, read_timeout: float) -> bytes:
    url = f"http://{host}:{port}{LISTING_PATH}"
    conn = connect(host, port, connect_timeout, read_timeout)
    try:
        conn.request("GET", LISTING_PATH, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read(_LISTING_MAX)
        status = resp.status
    except (OSError, http.client.HTTPException) as exc:
        raise CameraError(
            f"{url}: the camera accepted the connection but the file list failed "
            f"({type(exc).__name__}: {exc}); it may be busy or leaving, the next sync retries"
        ) from exc
    finally:
        conn.close()
    if status != 200:
        raise CameraError(
            f"{url}: HTTP {status} instead of the file list; check the address is a "
            "Novatek-API camera (Viofo and others)"
        )
    return body


def list_camera_files(
    address: str, timeout: float = 0.8, read_timeout: float = 20.0
) -> list[CameraFile]:
    """The camera's files. `timeout` bounds the connect (an absent camera costs that much);
    raises CameraUnreachable when nothing answers, CameraError when the answer is unusable."""
    host, port = parse_address(address)
    body = _fetch_listing(host, port, timeout, read_timeout)
    return parse_file_list(body, source=f"http://{host}:{port}{LISTING_PATH}")
