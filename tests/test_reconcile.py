"""reconcile's choice for a Crashed/Failed run, by the flow and where its video stands."""

import pytest

from flows._handoff import VIDEO_FLOWS, after_failure
from models.tables import Stage


@pytest.mark.parametrize(
    ("flow", "stage", "expected"),
    [
        ("heavy", Stage.ingested, "reschedule"),
        ("heavy", Stage.finalized, "supersede"),  # another run of heavy already did it
        ("heavy", Stage.archived, "supersede"),  # rerunning would rebuild a cleaned-up bundle
        ("finalize", Stage.processed, "reschedule"),
        ("finalize", Stage.finalized, "supersede"),  # reconcile's republish publishes archive
        ("archive", Stage.finalized, "reschedule"),
        ("archive", Stage.archived, "supersede"),
        ("confirm-archived", Stage.archived, "reschedule"),  # cleanup may be unpublished
        ("cleanup", Stage.archived, "reschedule"),
        ("cleanup", Stage.failed, "skip"),
    ],
)
def test_within_attempts(flow: str, stage: Stage, expected: str) -> None:
    assert after_failure(flow, stage, run_count=1, max_attempts=3) == expected


def test_out_of_attempts_fails_only_videos_not_yet_archived() -> None:
    assert after_failure("heavy", Stage.ingested, 3, 3) == "fail_video"
    assert after_failure("archive", Stage.finalized, 3, 3) == "fail_video"
    # Housekeeping after the archive never turns an archived video into a failed one.
    assert after_failure("cleanup", Stage.archived, 3, 3) == "give_up"
    assert after_failure("confirm-archived", Stage.archived, 5, 3) == "give_up"


def test_every_video_flow_has_its_stages() -> None:
    from flows._handoff import NEEDED_IN

    assert set(NEEDED_IN) == set(VIDEO_FLOWS)
