"""reconcile's choice for a Crashed/Failed run, by the flow and where its video stands."""

import pytest

from flows._handoff import VIDEO_FLOWS, after_failure
from models.tables import State


@pytest.mark.parametrize(
    ("flow", "state", "expected"),
    [
        ("heavy", State.ingested, "reschedule"),
        ("heavy", State.finalized, "supersede"),  # another run of heavy already did it
        ("heavy", State.archived, "supersede"),  # rerunning would rebuild a cleaned-up bundle
        ("finalize", State.processed, "reschedule"),
        ("finalize", State.finalized, "supersede"),  # reconcile's republish publishes archive
        ("archive", State.finalized, "reschedule"),
        ("archive", State.archived, "supersede"),
        ("confirm-archived", State.archived, "reschedule"),  # cleanup may be unpublished
        ("cleanup", State.archived, "reschedule"),
        ("cleanup", State.failed, "skip"),
    ],
)
def test_within_attempts(flow: str, state: State, expected: str) -> None:
    assert after_failure(flow, state, run_count=1, max_attempts=3) == expected


def test_out_of_attempts_fails_only_videos_not_yet_archived() -> None:
    assert after_failure("heavy", State.ingested, 3, 3) == "fail_video"
    assert after_failure("archive", State.finalized, 3, 3) == "fail_video"
    # Housekeeping after the archive never turns an archived video into a failed one.
    assert after_failure("cleanup", State.archived, 3, 3) == "give_up"
    assert after_failure("confirm-archived", State.archived, 5, 3) == "give_up"


def test_a_failure_says_what_is_safe_when_the_archive_exists() -> None:
    from flows._handoff import failure_reason

    heavy = failure_reason("heavy", "Crashed", 3, "worker lost", "heavy-v1")
    assert "heavy ended Crashed 3 times (worker lost)" in heavy and "heavy-v1" in heavy
    assert "archive" not in heavy
    confirm = failure_reason("confirm-archived", "Failed", 3, "db down", "confirm-archived-v1")
    assert "is complete and its metadata committed" in confirm
    # Out of attempts while finalized: the video is failed (terminal), with that reason.
    assert after_failure("confirm-archived", State.finalized, 3, 3) == "fail_video"


def test_every_video_flow_has_its_stages() -> None:
    from flows._handoff import NEEDED_IN

    assert set(NEEDED_IN) == set(VIDEO_FLOWS)


def test_reconciles_take_turns_and_a_dead_holder_frees_the_lock(tmp_path) -> None:  # noqa: ANN001
    """Two reconciles never overlap; a reconcile killed with its process (kill -9, a power cut)
    leaves the lock free, unlike the Prefect concurrency slot it replaced."""
    import signal
    import subprocess
    import sys
    import threading
    import time

    from flows.reconcile import one_at_a_time

    lock = tmp_path / "data" / "reconcile.lock"
    order: list[str] = []
    def second() -> None:
        with one_at_a_time(lock):
            order.append("second")

    with one_at_a_time(lock):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(1.0)
        order.append("first done")
    t.join(5)
    assert order == ["first done", "second"]

    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom flows.reconcile import one_at_a_time\n"
         f"with one_at_a_time(__import__('pathlib').Path({str(lock)!r})):\n"
         "    print('held', flush=True)\n    time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(TimeoutError, match="another reconcile has held"), one_at_a_time(lock, timeout_s=1):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with one_at_a_time(lock, timeout_s=5):
        pass
