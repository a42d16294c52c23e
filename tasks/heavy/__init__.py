"""Heavy processing of one video (the workhorse): plates, reads, archival copy, bundle.

Reads the raw clip straight from `raw`, writes nothing but a complete bundle to
work/<video_id>/ (built in scratch, renamed into place). A clip that turns out to be damaged
gives a bundle whose manifest says `failed` and why, so the main server records the reason.

Modules, in the order a clip goes through them: `config` (HeavyConfig, HeavyResult), `run`
(the stage: `run_heavy`), `loading` (models, once per process), `frame_loop` (`read_video`:
gate, detect, track, read, group), `track_reading` (which crops of a track are read),
`clip_formats` (plate formats from where the car was; which short reads are plates),
`located` (GPS onto sightings and plates), `output` (a plate's crop, frame and row).
"""

from tasks.heavy.clip_formats import clip_formats, formats_lookup, plate_text_check
from tasks.heavy.config import HeavyConfig, HeavyResult
from tasks.heavy.frame_loop import read_video
from tasks.heavy.loading import load_models, models_for, vehicles_for
from tasks.heavy.located import attach_gps
from tasks.heavy.run import run_heavy
from tasks.heavy.track_reading import TrackReading

__all__ = [
    "HeavyConfig",
    "HeavyResult",
    "TrackReading",
    "attach_gps",
    "clip_formats",
    "formats_lookup",
    "load_models",
    "models_for",
    "plate_text_check",
    "read_video",
    "run_heavy",
    "vehicles_for",
]
