"""The video lifecycle in one table: which flow follows which, on which pool, in which of a
video's states it is still needed, and the states a successful run leaves behind.

`prefect.yaml` deploys exactly these flows (tests/test_lifecycle.py checks that the two agree,
and that each flow module publishes what `publishes` says). `flows/_handoff.py` builds the
handoffs and reconcile's decisions from it, `dashcam process` walks `VIDEO_CHAIN` in process,
and the benches and tests take their flow lists from here.

A video's `state` (models.tables.State) is written by main-server flows only: ingest sets
`ingested`; finalize sets `processed` once heavy's bundle is validated, then `finalized` when
the metadata is committed (or `failed` with the reason); confirm-archived sets `archived`.
Heavy, archive and cleanup change files, not the state: that their work is done shows as the
next flow's run.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.tables import State

DEPLOYMENT = "dashcam"  # every flow is deployed under this name: "<flow>/dashcam"


@dataclass(frozen=True)
class Step:
    flow: str  # the Prefect flow's name
    entrypoint: str  # prefect.yaml's module:function
    device: str  # the work pool's key in Settings.pools (the device that runs it)
    params: tuple[str, ...] = ()  # what a handoff passes; empty: not a per-video flow
    needed_in: frozenset[State] = frozenset()  # states in which the video still needs a run
    sets: tuple[State, ...] = ()  # the states a successful run writes, in order
    publishes: tuple[str, ...] = ()  # the flows it publishes once it has succeeded
    every_s: int | None = None  # its interval schedule in prefect.yaml

    @property
    def per_video(self) -> bool:
        return bool(self.params)


_S = State
STEPS: tuple[Step, ...] = (
    Step("sync", "flows.sync:sync", "indoor-nas", every_s=60),
    Step("ingest", "flows.ingest:ingest", "main-server", sets=(_S.ingested,),
         publishes=("heavy",), every_s=60),
    Step("heavy", "flows.heavy:heavy", "workhorse", ("video_id", "raw_path"),
         frozenset({_S.ingested}), publishes=("finalize",)),
    Step("finalize", "flows.finalize:finalize", "main-server", ("video_id",),
         frozenset({_S.ingested, _S.processed}), (_S.processed, _S.finalized),
         publishes=("archive",)),
    Step("archive", "flows.archive:archive", "shed-nas", ("video_id",),
         frozenset({_S.finalized}), publishes=("confirm-archived",)),
    # Needed when archived too: a crash between recording `archived` and publishing cleanup.
    Step("confirm-archived", "flows.confirm_archived:confirm_archived", "main-server",
         ("video_id",), frozenset({_S.finalized, _S.archived}), (_S.archived,),
         publishes=("cleanup",)),
    Step("cleanup", "flows.cleanup:cleanup", "indoor-nas", ("video_id", "raw_path"),
         frozenset({_S.archived})),
    Step("reconcile", "flows.reconcile:reconcile", "main-server", every_s=60),
)

STEP = {s.flow: s for s in STEPS}
VIDEO_CHAIN = tuple(s.flow for s in STEPS if s.per_video)  # one video's flows, in order
VIDEO_FLOWS = {s.flow: s.device for s in STEPS if s.per_video}  # per-video flow -> device
NEEDED_IN = {s.flow: s.needed_in for s in STEPS if s.per_video}
TERMINAL = frozenset({State.archived, State.failed})  # nothing more is published for these


def resume_flow(state: State | str) -> str | None:
    """The flow a video in `state` waits for (what reconcile publishes again when a handoff
    was lost); None for a terminal state."""
    if state in TERMINAL:
        return None
    return next((f for f in VIDEO_CHAIN if state in NEEDED_IN[f]), None)
