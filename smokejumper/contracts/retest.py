"""The retest gate: before a block is lifted, an isolated endpoint restored or a rolled-back
model served again, the incident's attack prompts and a probe set are replayed against the
endpoint and checked by the detector that raised the alert."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from smokejumper.contracts.base import Contract, Rehearsal, RetryClass
from smokejumper.domain.retest import RetestRequest, RetestResult

# An endpoint that is down, slow or answering garbage is a failed retest, not an error:
# only our own trouble (the store, the evidence store) is retried. Probes run one after
# another, each within its own timeout; the activity heartbeats after each.
RETEST_RETRY = RetryClass(
    "retest",
    RetryPolicy(
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=4,
    ),
    timedelta(minutes=15),
    heartbeat=timedelta(minutes=2),
)


def rehearsed_retest(request: RetestRequest, _: Rehearsal) -> RetestResult:
    """A dry run calls no endpoint: it says so, and counts as a pass."""
    return RetestResult(
        incident_id=request.incident_id,
        business_key=request.business_key,
        passed=True,
        endpoints=request.endpoints,
        reason="rehearsed: no endpoint was called",
    )


RETEST = Contract(
    "retest_endpoint",
    RetestRequest,
    RetestResult,
    retry=RETEST_RETRY,
    rehearse=rehearsed_retest,
    description="Replay the incident's attack prompts and the probe set against the "
    "endpoint's chat API and check the answers with the detector that raised the alert.",
)
