"""Test helper: real MP4 files (ffmpeg testsrc) with dashcam GPS grafted in the cameras' way.

* Novatek: `moov` gains a `gps ` child (u32be 0x101, u32be count, count x (offset, size))
  pointing at `freeGPS ` blocks stored after `moov` in a top-level `free` box.
* BlackVue: a top-level `free` box with a `gps ` child of "[unix_ms]$GPRMC..." lines (and
  an empty `3gf ` accelerometer child, as the cameras write).

ffmpeg writes `moov` last, so growing it moves no media data and the file still plays.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest


def box(btype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), btype) + payload


def make_mp4(path: Path, seconds: float = 1.0) -> Path:
    """A tiny real H.264 MP4 (64x48, 5 fps)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed: run `bash infra/setup.sh`")
    subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
        check=True, capture_output=True, timeout=60,
    )
    return path


def top_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, size) of the top-level boxes of a well-formed file."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        size, btype = struct.unpack_from(">I4s", data, pos)
        out.append((btype, pos, size))
        pos += size
    return out


def freegps_block(body: bytes, size: int = 0x100) -> bytes:
    """A `freeGPS ` block: u32be size + "freeGPS " + body (from byte 12), zero-padded."""
    raw = bytearray(size)
    raw[0:4] = struct.pack(">I", size)
    raw[4:12] = b"freeGPS "
    raw[12:12 + len(body)] = body[: size - 12]
    return bytes(raw)


def add_novatek(src: Path, dst: Path, blocks: list[bytes]) -> Path:
    from tasks.synthetic import graft_novatek_blocks  # the demo's writer, the same layout

    return graft_novatek_blocks(src, dst, blocks)


def add_blackvue(src: Path, dst: Path, nmea_lines: list[str]) -> Path:
    text = "".join(line + "\r\n" for line in nmea_lines).encode("ascii")
    free = box(b"free", box(b"gps ", text) + box(b"3gf ", b"\0" * 30))
    dst.write_bytes(src.read_bytes() + free)
    return dst


def hexdumps(text: str) -> dict[int, bytes]:
    """The dumps in exiftool_freegps_hexdumps.txt by their "## line N" heading (gaps zeroed)."""
    import re

    out: dict[int, bytearray] = {}
    current: bytearray | None = None
    for line in text.splitlines():
        if m := re.match(r"## line (\d+)", line):
            current = out.setdefault(int(m[1]), bytearray())
        elif current is not None and (m := re.match(r"^([0-9a-f]{4}): ((?:[0-9a-f]{2} ?)+)", line)):
            offset, chunk = int(m[1], 16), bytes.fromhex(m[2].replace(" ", ""))
            if len(current) < offset:
                current.extend(b"\0" * (offset - len(current)))
            current[offset:offset + len(chunk)] = chunk
    return {k: bytes(v) for k, v in out.items()}
