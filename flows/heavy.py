"""heavy (workhorse): plates, reads and the archival copy of one video, into a bundle on `work`."""

from prefect import flow

from dashcam.settings import get_settings
from flows._handoff import publish
from tasks.heavy import run_heavy


@flow(name="heavy", retries=1, retry_delay_seconds=10)
def heavy(video_id: str, raw_path: str) -> dict:
    result = run_heavy(get_settings(), video_id, raw_path)
    # The bundle is complete on `work` (success or a recorded failure): hand over to the main server.
    publish("finalize", {"video_id": video_id}, f"finalize:{video_id}")
    return {"status": result.status, "plates": result.plates, "sightings": result.sightings}
