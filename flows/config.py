"""Each stage's config, built from `dashcam.settings.Settings`: the one place where settings
fields are mapped onto what `tasks/` reads, so `tasks/` never imports `dashcam`.

The CLI, the in-process pipeline, the benches, the dashboard and tests use these builders too.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from dashcam.settings import Settings
from tasks.volumes import Volumes

# Each builder imports its stage's module itself: a NAS imports this module for sync and archive
# and has no OpenCV or ONNX runtime, which tasks.gating and tasks.heavy need (tests/test_installs).
if TYPE_CHECKING:
    from tasks.archive import ArchiveConfig
    from tasks.finalize import FinalizeConfig
    from tasks.gating import GateConfig
    from tasks.heavy import HeavyConfig
    from tasks.ingest import IngestConfig
    from tasks.sync import SyncConfig

C = TypeVar("C", bound=Volumes)


def _pick(settings: Settings, cls: type[C], **given: Any) -> C:
    """`cls` with each field not `given` taken from the settings field of the same name."""
    values = {f.name: getattr(settings, f.name) for f in fields(cls) if f.name not in given}
    return cls(**values, **given)


def volumes(settings: Settings) -> Volumes:
    return _pick(settings, Volumes)


def ingest_config(settings: Settings) -> IngestConfig:
    from tasks.ingest import IngestConfig

    return _pick(settings, IngestConfig, video_extensions=tuple(settings.video_extensions))


def gate_config(settings: Settings) -> GateConfig:
    from tasks.gating import GateConfig

    return GateConfig(
        static_area_pct=settings.gate_static_area_pct,
        static_refresh_s=settings.gate_static_refresh_s,
        dark_luma=settings.gate_dark_luma,
        blur_var=settings.gate_blur_var,
        stationary_mps=settings.stationary_speed_mps,
        stationary_every_s=settings.stationary_every_s,
    )


def heavy_config(settings: Settings) -> HeavyConfig:
    from tasks.heavy import HeavyConfig

    return _pick(
        settings,
        HeavyConfig,
        onnx_providers=tuple(settings.onnx_providers),
        ocr_recognisers=tuple(settings.ocr_recognisers),
        gate=gate_config(settings),
    )


def finalize_config(settings: Settings) -> FinalizeConfig:
    from tasks.finalize import FinalizeConfig

    return _pick(settings, FinalizeConfig, alert_urls=tuple(settings.alert_url_list()))


def archive_config(settings: Settings) -> ArchiveConfig:
    from tasks.archive import ArchiveConfig

    return _pick(settings, ArchiveConfig)


def sync_config(settings: Settings, address: str) -> SyncConfig:
    from tasks.sync import SyncConfig

    return SyncConfig(
        address=address,
        priority=settings.sync_priority,
        grouping=settings.sync_grouping,
        keep=settings.sync_keep,
        max_disk_percent=settings.sync_max_disk_percent,
        max_disk_bytes=settings.sync_max_disk_bytes,
        connect_timeout=settings.sync_connect_timeout_s,
        read_timeout=settings.sync_read_timeout_s,
        extensions=settings.video_extensions,
    )
