"""The e-mail delivery workflow: one per incident event told by e-mail.

The incident's own workflow never waits for the mail server. Its timeline activities
start this workflow (its id names the incident and the event, so a retried activity
cannot start it twice), and it sends through the `email_deliver` activity with its own
retry policy: an SMTP outage delays the mail, never a containment step.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from integrations.email.messages import DELIVERY_WORKFLOW, EMAIL_DELIVER, EmailDelivery


@workflow.defn(name=DELIVERY_WORKFLOW)
class EmailDeliveryWorkflow:
    @workflow.run
    async def run(self, delivery: EmailDelivery) -> int:
        try:
            return await EMAIL_DELIVER.execute(delivery)
        except ActivityError:
            # Given up (logged by the activity); the incident's timeline still has it.
            return 0
