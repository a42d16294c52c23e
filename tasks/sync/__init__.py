"""Dashcam Wi-Fi sync: copy new clips from a Novatek-API camera (Viofo and many others) to `raw`.

The camera lists its card at `/?custom=1&cmd=3015&par=1` (XML `File` entries: NAME, FPATH, SIZE,
TIMECODE, TIME, ATTR) and serves each file over plain HTTP at its FPATH (`A:\\DCIM\\Movie\\X.MP4`
is `/DCIM/Movie/X.MP4`; locked clips live in `Movie/RO` or `EMR`, parking ones in `Parking`).

What a sync guarantees:
- A clip appears as `raw/<group>/<name>` only complete: it is written to `.<name>.part` (ingest
  ignores dot-files and `.part`), fsynced, size-checked and renamed in one step.
- An interrupted download is resumed with an HTTP Range request (restarted where the camera
  ignores Range); a download that never completes never looks complete.
- Nothing is downloaded twice: a ledger (`raw/.sync/downloaded.jsonl`) remembers name and size of
  every clip fetched, so clips that the pipeline (or our retention) has since deleted from `raw`
  are not fetched again while the camera still holds them.
- Retention only deletes clips this sync downloaded, older than the keep period, and only when
  the caller's `is_archived(rel_path)` says the pipeline archived them.
- The camera being away is the normal case: one short connect attempt, then a result that says
  "not reachable" (no exception, nothing written).

Plain Python on purpose (stdlib `http.client`: no Prefect, no DB): the caller wires Settings and
the DB-backed `is_archived` in.

The modules, bottom up: `config` (SyncConfig and its parsers), `connection` (CameraError,
CameraUnreachable, connecting within the short timeout), `listing` (CameraFile, fetching and
parsing the file list), `download` (one clip into its `.part`, with Range resume), `layout`
(group folder, safe local name, `.part` name), `ledger` (raw/.sync/: the ledger and the lock),
`retention` (retention deletes and the disk limit), `run` (`sync` itself and SyncResult).
"""

from tasks.sync.config import SyncConfig, parse_period, parse_size
from tasks.sync.connection import CameraError, CameraUnreachable
from tasks.sync.layout import local_name
from tasks.sync.listing import CameraFile, list_camera_files, parse_file_list
from tasks.sync.run import SyncResult, sync

__all__ = [
    "CameraError",
    "CameraFile",
    "CameraUnreachable",
    "SyncConfig",
    "SyncResult",
    "list_camera_files",
    "local_name",
    "parse_file_list",
    "parse_period",
    "parse_size",
    "sync",
]
