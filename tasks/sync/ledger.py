"""The sync's own state in `raw/.sync/`: the `Ledger` of completed downloads (so nothing is
fetched twice) and the name of the lock that lets one sync at a time work in a raw folder."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path

from tasks.sync.listing import CameraFile

log = logging.getLogger(__name__)

STATE_DIR = ".sync"  # inside raw; dot-prefixed so ingest never looks inside
LEDGER_NAME = "downloaded.jsonl"
LOCK_NAME = "lock"


class Ledger:
    """Append-only record of completed downloads in raw/.sync/downloaded.jsonl."""

    def __init__(self, raw_root: Path) -> None:
        self.path = raw_root / STATE_DIR / LEDGER_NAME
        self.entries: list[dict] = []
        self._by_name: dict[str, set[int | None]] = {}
        self._torn = False  # the last line was cut by a crash: start the next entry on a new line
        if self.path.is_file():
            text = self.path.read_text(encoding="utf-8", errors="surrogateescape")
            self._torn = bool(text) and not text.endswith("\n")
            for line in text.splitlines():
                try:
                    self._index(json.loads(line))
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a torn or hand-edited line: ignore it

    def _index(self, entry: dict) -> None:
        self._by_name.setdefault(entry["name"], set()).add(entry.get("size"))
        self.entries.append(entry)

    def has(self, name: str, size: int | None) -> bool:
        sizes = self._by_name.get(name)
        return bool(sizes) and (size is None or size in sizes)

    def add(self, f: CameraFile, rel: str, size: int) -> None:
        entry = {
            "name": f.name,
            "size": size,
            "path": rel,
            "time": f.time.isoformat() if f.time else None,
            "kind": f.kind,
            "locked": f.locked,
            "channel": f.channel,
            "camera_path": f.url_path,
            "downloaded_at": datetime.now().isoformat(timespec="seconds"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8", errors="surrogateescape") as out:
            out.write(("\n" if self._torn else "") + json.dumps(entry) + "\n")
            self._torn = False
            out.flush()
            os.fsync(out.fileno())
        self._index(entry)
