"""The `workflow.patched` markers of the playbook runtime: each guards a change of what a
playbook's workflow does, so that runs recorded before it replay unchanged."""

from __future__ import annotations

# Marks runs that hand failed steps to people and tell containment as it is verified.
HANDOFF_PATCH = "failure-handoff"
# Marks histories whose bookkeeping writes are local activities (see RunState._bookkeep).
LOCAL_BOOKKEEPING_PATCH = "local-bookkeeping"
# Marks child runs that announce their approvals to the parent (see ChildApprovals._announce).
CHILD_APPROVALS_PATCH = "child-approvals"
# Marks runs that end when their incident is closed (see Lifecycle._close).
CLOSE_ENDS_RUN_PATCH = "close-ends-run"
# Marks runs that retest the endpoint before undoing containment (see RetestGate).
RETEST_GATE_PATCH = "retest-before-restore"
# Marks runs that ask which task queue a provider family's step runs on (see sdk/queues.py).
INTEGRATION_QUEUES_PATCH = "integration-queues"
# Marks runs whose `decide` update answers once the vote is counted, its timeline and audit
# entries written by activities scheduled alongside the next step (see Approvals._count).
VOTES_WRITTEN_AFTER_PATCH = "votes-written-after-decision"
# Marks runs whose `step.started` entry is written by an activity scheduled beside the
# step's own, not before it (see Handoffs._step_started).
STEP_STARTED_BESIDE_PATCH = "step-started-beside-its-activity"
# Marks runs that refuse a second close admitted in the same workflow task as the first
# (its validator ran before the first close began; see Lifecycle._close).
CLOSE_ONCE_PATCH = "close-once"
# Marks runs whose completing workflow task holds nothing but the completion (see
# Lifecycle._ended_apart).
END_APART_PATCH = "end-in-a-task-of-its-own"
# Marks runs that answer alerts joining after `respond` began (see Lifecycle._answer_later_alerts).
LATER_ALERTS_PATCH = "answer-later-alerts"
