"""A small, bounds-checked ISO-BMFF / QuickTime box walker that reads by seeking.

Everything a file says about sizes is hostile (fuzzed SD-card files, power cuts mid-write):
every size is checked against the parent box and the real file size, every table length
against the bytes that hold it, and nothing reads more than a caller-given limit. Multi-GB
clips are never read whole: we read 8/16-byte headers and the few small boxes we need.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

__all__ = [
    "Box",
    "Mp4Error",
    "Sample",
    "TrakInfo",
    "find_path",
    "iter_traks",
    "list_boxes",
    "read_at",
    "read_payload",
    "track_samples",
    "trak_info",
]

# Box types that hold other boxes (we only descend into the ones we need).
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts", b"dinf"}
MAX_BOXES_PER_LEVEL = 100_000  # a fuzzed file can declare millions of 8-byte boxes
MAX_SAMPLES = 2_000_000  # ~23 days of 1 Hz metadata: more is a corrupt table


class Mp4Error(Exception):
    """The box structure is broken; the message says where (byte offset)."""


@dataclass(frozen=True)
class Box:
    type: bytes  # 4 bytes, e.g. b"moov"
    start: int  # file offset of the header
    header: int  # 8 or 16 bytes
    end: int  # declared end (may be past `limit` when truncated)
    limit: int  # end of the parent (or of the file)

    @property
    def payload_start(self) -> int:
        return self.start + self.header

    @property
    def truncated(self) -> bool:
        return self.end > self.limit

    @property
    def payload_size(self) -> int:
        """Bytes of payload really present (clamped to the parent / file end)."""
        return max(0, min(self.end, self.limit) - self.payload_start)

    @property
    def name(self) -> str:
        return self.type.decode("latin-1")


def _read_exact(f: BinaryIO, offset: int, size: int) -> bytes:
    f.seek(offset)
    return f.read(size)


def _valid_type(t: bytes) -> bool:
    # Real 4CCs are printable ASCII (Apple's "©nam" style is only used inside udta/ilst,
    # which we never walk); random bytes almost never are.
    return len(t) == 4 and all(0x20 <= c <= 0x7E for c in t)


def list_boxes(f: BinaryIO, start: int, end: int) -> tuple[list[Box], str | None]:
    """The boxes laid end to end in [start, end), and a problem description if the run breaks.

    The walk stops at the first header that cannot be right (size below the header, a type
    that is not a 4CC); boxes already found are still returned. A last box that claims more
    bytes than remain is returned with `truncated` set.
    """
    boxes: list[Box] = []
    pos = start
    while pos < end:
        if len(boxes) >= MAX_BOXES_PER_LEVEL:
            return boxes, f"more than {MAX_BOXES_PER_LEVEL} boxes at one level from byte {start}"
        if end - pos < 8:
            # A few stray bytes at the very end happen (padding); not worth a complaint.
            return boxes, None
        head = _read_exact(f, pos, 8)
        if len(head) < 8:
            return boxes, f"file ends inside a box header at byte {pos}"
        size, btype = struct.unpack(">I4s", head)
        header = 8
        if size == 1:  # 64-bit size follows
            ext = _read_exact(f, pos + 8, 8)
            if len(ext) < 8:
                return boxes, f"file ends inside a box header at byte {pos}"
            size = struct.unpack(">Q", ext)[0]
            header = 16
        elif size == 0:  # "to the end of the enclosing box"
            size = end - pos
        if not _valid_type(btype):
            return boxes, f"garbage instead of a box header at byte {pos}"
        if size < header:
            return boxes, f"box {btype.decode('latin-1')!r} at byte {pos} declares an impossible size {size}"
        box = Box(btype, pos, header, pos + size, end)
        boxes.append(box)
        if box.truncated:
            return boxes, f"box {box.name!r} at byte {pos} is truncated (declares {size} bytes, {end - pos} remain)"
        pos += size
    return boxes, None


def find_path(f: BinaryIO, top: list[Box], path: list[bytes]) -> Box | None:
    """The first box at `path` (e.g. [b"moov", b"udta"]) below the top-level list, or None."""
    level = top
    found: Box | None = None
    for i, want in enumerate(path):
        found = next((b for b in level if b.type == want), None)
        if found is None:
            return None
        if i + 1 < len(path):
            level, _ = list_boxes(f, found.payload_start, min(found.end, found.limit))
    return found


def read_payload(f: BinaryIO, box: Box, max_bytes: int) -> bytes:
    """The box's payload (clamped to what the file holds), refusing anything above max_bytes."""
    size = box.payload_size
    if size > max_bytes:
        raise Mp4Error(
            f"box {box.name!r} at byte {box.start} holds {size} bytes, more than the {max_bytes} "
            "a metadata box can plausibly need"
        )
    return _read_exact(f, box.payload_start, size)


def read_at(f: BinaryIO, offset: int, size: int, file_size: int) -> bytes | None:
    """`size` bytes at `offset`, or None when the range is not inside the file."""
    if offset < 0 or size < 0 or offset + size > file_size:
        return None
    data = _read_exact(f, offset, size)
    return data if len(data) == size else None


# --------------------------------------------------------------------------- sample tables


@dataclass(frozen=True)
class Sample:
    offset: int  # file offset
    size: int
    time_s: float  # decode time from the track start
    duration_s: float


@dataclass(frozen=True)
class TrakInfo:
    box: Box
    handler: bytes  # b"vide", b"soun", b"meta", b"text", ...
    format: bytes  # first sample description's 4CC, e.g. b"gpmd", b"avc1"


def _children(f: BinaryIO, box: Box) -> list[Box]:
    kids, _ = list_boxes(f, box.payload_start, min(box.end, box.limit))
    return kids


def _child(f: BinaryIO, box: Box, want: bytes) -> Box | None:
    return next((b for b in _children(f, box) if b.type == want), None)


def trak_info(f: BinaryIO, trak: Box) -> TrakInfo | None:
    """Handler type and sample format of a `trak`, or None when its headers are broken."""
    mdia = _child(f, trak, b"mdia")
    if mdia is None:
        return None
    hdlr = _child(f, mdia, b"hdlr")
    handler = b""
    if hdlr is not None:
        data = read_payload(f, hdlr, 4096)
        handler = data[8:12] if len(data) >= 12 else b""
    fmt = b""
    minf = _child(f, mdia, b"minf")
    stbl = _child(f, minf, b"stbl") if minf else None
    stsd = _child(f, stbl, b"stsd") if stbl else None
    if stsd is not None:
        data = read_payload(f, stsd, 1 << 20)
        fmt = data[12:16] if len(data) >= 16 else b""
    return TrakInfo(trak, handler, fmt)


def _table(data: bytes, header: int, entry: int, count: int, what: str, where: int) -> memoryview:
    need = header + entry * count
    if count < 0 or need > len(data):
        raise Mp4Error(f"{what} at byte {where} declares {count} entries but holds only {len(data)} bytes")
    return memoryview(data)[header:need]


def track_samples(f: BinaryIO, trak: Box, file_size: int) -> list[Sample]:
    """Every sample of a track (offset, size, time), from mdhd/stts/stsz/stsc/stco|co64.

    Raises Mp4Error with the byte offset when a table is inconsistent or oversized.
    """
    mdia = _child(f, trak, b"mdia")
    minf = _child(f, mdia, b"minf") if mdia else None
    stbl = _child(f, minf, b"stbl") if minf else None
    mdhd = _child(f, mdia, b"mdhd") if mdia else None
    if stbl is None or mdhd is None:
        raise Mp4Error(f"track at byte {trak.start} has no sample table")
    hd = read_payload(f, mdhd, 4096)
    if len(hd) >= 24 and hd[0] == 1:
        timescale = struct.unpack(">I", hd[20:24])[0]
    elif len(hd) >= 16:
        timescale = struct.unpack(">I", hd[12:16])[0]
    else:
        raise Mp4Error(f"mdhd at byte {mdhd.start} is too short")
    if timescale == 0:
        raise Mp4Error(f"mdhd at byte {mdhd.start} has a zero timescale")
    kids = {b.type: b for b in _children(f, stbl)}
    limit = 64 << 20  # sample tables of a few hours of video are a few MB

    def payload(t: bytes) -> tuple[bytes, int] | None:
        b = kids.get(t)
        return (read_payload(f, b, limit), b.start) if b else None

    stsz, stts, stsc = payload(b"stsz"), payload(b"stts"), payload(b"stsc")
    stco = payload(b"stco") or payload(b"co64")
    wide = b"stco" not in kids
    if not (stsz and stts and stsc and stco):
        raise Mp4Error(f"track at byte {trak.start} lacks one of stsz/stts/stsc/stco")

    data, at = stsz
    if len(data) < 12:
        raise Mp4Error(f"stsz at byte {at} is too short")
    fixed, count = struct.unpack(">II", data[4:12])
    if count > MAX_SAMPLES:
        raise Mp4Error(f"stsz at byte {at} declares {count} samples")
    sizes = [fixed] * count if fixed else list(struct.unpack(f">{count}I", _table(data, 12, 4, count, "stsz", at)))

    data, at = stts
    n = struct.unpack(">I", data[4:8])[0] if len(data) >= 8 else -1
    table = _table(data, 8, 8, n, "stts", at)
    durations: list[int] = []
    for c, d in struct.iter_unpack(">II", table):
        durations.extend([d] * min(c, count - len(durations)))
        if len(durations) >= count:
            break
    if len(durations) < count:  # short table: repeat the last delta (seen in cut files)
        durations.extend([durations[-1] if durations else 0] * (count - len(durations)))

    data, at = stco
    n = struct.unpack(">I", data[4:8])[0] if len(data) >= 8 else -1
    esize = 8 if wide else 4
    chunks = list(struct.unpack(f">{n}{'Q' if wide else 'I'}", _table(data, 8, esize, n, "stco", at)))

    data, at = stsc
    n = struct.unpack(">I", data[4:8])[0] if len(data) >= 8 else -1
    runs = list(struct.iter_unpack(">III", _table(data, 8, 12, n, "stsc", at)))

    samples: list[Sample] = []
    t = 0
    idx = 0
    for r, (first, per_chunk, _desc) in enumerate(runs):
        last = runs[r + 1][0] - 1 if r + 1 < len(runs) else len(chunks)
        if first < 1 or last > len(chunks) or per_chunk > MAX_SAMPLES:
            raise Mp4Error(f"stsc at byte {at} points at chunks that do not exist")
        for chunk in range(first - 1, last):
            if idx >= count:
                return samples  # every sample placed; ignore surplus chunk entries
            pos = chunks[chunk]
            for _ in range(min(per_chunk, count - idx)):
                size = sizes[idx]
                if pos + size > file_size:
                    raise Mp4Error(f"sample {idx} at byte {pos} runs past the end of the file")
                samples.append(Sample(pos, size, t / timescale, durations[idx] / timescale))
                t += durations[idx]
                pos += size
                idx += 1
    return samples


def iter_traks(f: BinaryIO, moov: Box) -> Iterator[Box]:
    for b in _children(f, moov):
        if b.type == b"trak":
            yield b
