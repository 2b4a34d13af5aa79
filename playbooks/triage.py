"""`triage`: the incident workflow for alerts that no playbook route matches.

It opens the case, records it on the timeline, collects every further alert with the same
fingerprint and stays open until a responder closes it.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from smokejumper.domain.incidents import (
        QUERY_STATE,
        SIGNAL_ALERT,
        UPDATE_CLOSE,
        AlertAttached,
        CloseRequest,
        IncidentStart,
        IncidentState,
        IncidentStatus,
        StatusChange,
        TimelineEntry,
    )
    from smokejumper.temporal import search_attributes
    from smokejumper.temporal.policies import STORE_RETRY, STORE_TIMEOUT

# Keep histories short for incidents that soak up alert storms.
_CONTINUE_AS_NEW_AFTER_EVENTS = 10_000


@workflow.defn(name="triage")
class TriageWorkflow:
    @workflow.init
    def __init__(self, start: IncidentStart) -> None:
        # Set before any signal or update handler can run.
        self._start = start
        self._status = IncidentStatus.OPEN
        self._alerts_seen = 0
        self._closed_by: CloseRequest | None = None
        self._closing = False
        self._alert_ids: set[str] = set()

    @workflow.run
    async def run(self, start: IncidentStart) -> IncidentState:
        info = workflow.info()
        if info.continued_run_id is None:
            await workflow.execute_activity(
                "record_timeline_event",
                TimelineEntry(
                    incident_id=start.incident_id,
                    kind="playbook.started",
                    message=f"Playbook {info.workflow_type} started; awaiting triage",
                    actor=f"playbook:{info.workflow_type}",
                    step="triage",
                    event_key=f"{start.incident_id}:playbook.started:{info.run_id}",
                ),
                start_to_close_timeout=STORE_TIMEOUT,
                retry_policy=STORE_RETRY,
            )
        await workflow.wait_condition(
            lambda: (
                self._closed_by is not None
                or workflow.info().get_current_history_length() > _CONTINUE_AS_NEW_AFTER_EVENTS
            )
        )
        if self._closed_by is None:
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(start)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    @workflow.signal(name=SIGNAL_ALERT)
    def alert(self, attached: AlertAttached) -> None:
        # Intake delivers at least once (its outbox may re-send after a crash).
        if attached.alert_id in self._alert_ids:
            return
        self._alert_ids.add(attached.alert_id)
        self._alerts_seen += 1

    @workflow.update(name=UPDATE_CLOSE)
    async def close(self, request: CloseRequest) -> IncidentState:
        self._closing = True
        try:
            await self._set_closed(request)
        except BaseException:
            self._closing = False
            raise
        self._status = IncidentStatus.CLOSED
        self._closed_by = request
        workflow.upsert_search_attributes([search_attributes.INCIDENT_STATUS.value_set("closed")])
        return self.state()

    async def _set_closed(self, request: CloseRequest) -> None:
        await workflow.execute_activity(
            "set_incident_status",
            StatusChange(
                incident_id=self._start.incident_id,
                status=IncidentStatus.CLOSED,
                actor=request.actor,
                reason=request.reason,
                event_key=f"{self._start.incident_id}:closed:{workflow.info().run_id}",
            ),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
        )

    @close.validator
    def _validate_close(self, request: CloseRequest) -> None:
        if self._closing or self._closed_by is not None:
            raise ValueError("the incident is already closed")

    @workflow.query(name=QUERY_STATE)
    def state(self) -> IncidentState:
        return IncidentState(
            incident_id=self._start.incident_id,
            ref=self._start.ref,
            status=self._status,
            playbook=self._start.playbook,
            alerts_seen=self._alerts_seen,
            current_step="triage" if self._status is not IncidentStatus.CLOSED else None,
        )
