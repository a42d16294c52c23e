"""`tasks/` reads per-stage configs, never `dashcam.settings` (issue 15: imports point down)."""

import ast
from pathlib import Path

from dashcam.settings import Settings
from flows.config import archive_config, finalize_config, heavy_config, ingest_config, sync_config

TASKS = Path(__file__).resolve().parents[1] / "tasks"


def test_no_module_in_tasks_imports_dashcam_or_flows() -> None:
    bad = []
    for path in sorted(TASKS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            bad += [f"{path.relative_to(TASKS.parent)}:{node.lineno} imports {n}"
                    for n in names if n.split(".")[0] in ("dashcam", "flows", "dashboard")]
    assert not bad, "tasks/ must not import upper layers:\n" + "\n".join(bad)


def test_each_stage_config_carries_the_settings_it_reads(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, alert_urls="https://a.example/x?token=secret", sample_every_s=0.25)
    heavy = heavy_config(s)
    assert heavy.sample_every_s == 0.25 and heavy.gate.static_refresh_s == s.gate_static_refresh_s
    assert heavy.resolve("raw", "a/b.mp4") == s.raw_root / "a" / "b.mp4"
    assert ingest_config(s).stable_seconds == s.stable_seconds
    assert archive_config(s).volume_root("archive") == s.archive_root
    fin = finalize_config(s)
    assert fin.alert_urls == tuple(s.alert_url_list())
    assert "secret" not in repr(fin), "alert URLs carry tokens: kept out of reprs and logs"


def test_the_sync_config_carries_every_sync_setting(tmp_path: Path) -> None:
    s = Settings(
        data_dir=tmp_path,
        sync_max_disk_bytes="500G",
        sync_connect_timeout_s=2.5,
        sync_read_timeout_s=7,
        sync_keep="4w",
    )
    c = sync_config(s, "192.168.1.254")
    assert c.max_disk_bytes == 500 * 2**30 and c.max_disk_percent == s.sync_max_disk_percent
    assert (c.connect_timeout, c.read_timeout) == (2.5, 7.0)
    assert c.keep is not None and c.keep.days == 28
