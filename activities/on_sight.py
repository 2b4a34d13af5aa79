"""Revoking a leak's keys on sight: the first thing a data-leak run does, as a local
activity in its first workflow task, before the evidence is captured or the timeline
written. Every millisecond a leaked key stays live it can be used.

Each key is revoked through the same action row (business key) as the playbook's own
revoke step, so that step, which runs next, finds it done and records it, or finishes what
this began. Keys whose family is routed to an integration worker are left to that step:
this worker may not hold their credentials. A failure here is left to the step too, which
retries it with the containment policy and hands it to people if it still fails.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from activities.actions import on_containment_thread
from activities.assessment import AssessmentActivities
from activities.containment import ContainmentActivities
from smokejumper.config import Settings
from smokejumper.contracts.keys import (
    KEYS_ONE_BY_ONE,
    REVOKE_KEY,
    REVOKE_LEAKED_KEYS,
    revoke_step,
)
from smokejumper.domain.containment import KeyAction, RevokedOnSight
from smokejumper.masking import mask
from smokejumper.temporal.queues import route_of


class OnSightActivities:
    def __init__(
        self,
        settings: Settings,
        assessment: AssessmentActivities,
        containment: ContainmentActivities,
    ) -> None:
        self.settings = settings
        self.assessment = assessment
        self.containment = containment

    @REVOKE_LEAKED_KEYS.implementation
    async def revoke_leaked_keys(self, incident_id: int) -> RevokedOnSight:
        """Revoke every key the incident's leaked output holds that this worker serves."""
        # A local activity does not heartbeat: one call on containment's own threads.
        return await on_containment_thread(self._revoke_all, incident_id)

    def _revoke_all(self, incident_id: int) -> RevokedOnSight:
        result = RevokedOnSight(incident_id=incident_id)
        keys = self.assessment.leaked_keys(incident_id)
        # The ones the playbook revokes a step each; it batches the rest, and a first look
        # at thousands would outlast this activity's few seconds.
        result.left_over = max(0, len(keys) - KEYS_ONE_BY_ONE)
        for key in keys[:KEYS_ONE_BY_ONE]:
            name = mask(key.key_id)
            route = route_of(self.settings.temporal, REVOKE_KEY.name, key.provider)
            if route is not None:
                result.left[name] = f"runs on the {route} integration worker"
                continue
            action = KeyAction(
                incident_id=incident_id,
                step=revoke_step(key.key_id),
                provider=key.provider,
                key_id=key.key_id,
            )
            try:
                result.revoked.append(self.containment.revoke_now(action))
            except ApplicationError as exc:
                # Recorded on the action row; the revoke step retries it.
                result.left[name] = exc.message
        return result
