"""SQLAlchemy 2.0 typed tables. Alembic migrations in `migrations/` must match these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both databases (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


# Row ids are `Integer` columns (32-bit on PostgreSQL): a larger number names no row, and
# PostgreSQL refuses to compare one with them instead of finding nothing.
ROW_ID_MAX = 2**31 - 1


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime}


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ref: Mapped[str | None] = mapped_column(String(32), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    # Equals the fingerprint while the incident is open, NULL once closed: a unique index
    # on it lets the database, not a race, decide which alert opens the incident.
    open_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), index=True, default="open")
    playbook: Mapped[str | None] = mapped_column(String(100), index=True)
    route: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    workflow_id: Mapped[str] = mapped_column(String(120), index=True)
    principal: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    target: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    labels: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    owasp: Mapped[list[str]] = mapped_column(JsonType, default=list)
    atlas: Mapped[list[str]] = mapped_column(JsonType, default=list)
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    acknowledged_at: Mapped[datetime | None]
    contained_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # The responder leading the response (a user name), set by hand or by a playbook.
    commander: Mapped[str | None] = mapped_column(String(200))
    # Set when this incident was merged into another (status "merged"): where it went.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    # Where its Slack card was posted: replies in that thread (or anywhere in the incident's
    # own channel) are captured as notes.
    slack_channel: Mapped[str | None] = mapped_column(String(40), index=True)
    slack_thread_ts: Mapped[str | None] = mapped_column(String(40))


class AlertRow(Base):
    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    occurred_at: Mapped[datetime]
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    deduplicated: Mapped[bool] = mapped_column(Boolean, default=False)
    raw: Mapped[str] = mapped_column(Text)
    normalized: Mapped[dict[str, Any]] = mapped_column(JsonType)
    # Outbox: NULL until the workflow has been signalled; the scheduler retries the rest.
    # Indexed only while NULL (ix_alerts_undispatched): marking an alert dispatched then
    # removes it from a small index instead of moving it within one of every alert.
    dispatched_at: Mapped[datetime | None]
    dispatch_attempts: Mapped[int] = mapped_column(Integer, default=0)
    dispatch_error: Mapped[str | None] = mapped_column(Text)
    # When retention emptied `raw` (the body as received); `normalized` stays for the incident.
    raw_deleted_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "ix_alerts_undispatched",
            "received_at",
            sqlite_where=text("dispatched_at IS NULL"),
            postgresql_where=text("dispatched_at IS NULL"),
        ),
    )


class IntakeRequest(Base):
    """An alert request sent with an idempotency key (the `Idempotency-Key` header, or the
    source's own event id): the unique (scope, key) makes a retry, or a concurrent twin,
    find the first request's answer instead of storing the alert again. `status` is NULL
    while the first request is being processed. Rows expire after a day."""

    __tablename__ = "intake_requests"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(300))
    key: Mapped[str] = mapped_column(String(300))
    body_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(Text)


class RevokedSession(Base):
    """A console session signed out before its cookie expired: the cookie is still validly
    signed, so the server keeps its id (hashed) until `expires_at`, when it is worthless
    anyway."""

    __tablename__ = "revoked_sessions"

    sid_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SsoIdentity(Base):
    """The identity at an OpenID Connect provider that first signed in under a user name:
    the name is theirs from then on, so someone who may edit their own
    `preferred_username` at the provider cannot take another person's name here (their
    audit entries, approval links, two-person votes)."""

    __tablename__ = "sso_identities"

    user_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    bound_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The intake path it was sent to, so a replay goes through the same format.
    endpoint: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(200), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    raw_body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    remote_addr: Mapped[str | None] = mapped_column(String(100))
    replayed_at: Mapped[datetime | None]
    replay_alert_id: Mapped[str | None] = mapped_column(String(36))


class TimelineEvent(Base):
    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(60))
    step: Mapped[str | None] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    # Business key of the writer (activity retries, duplicate deliveries): written once.
    event_key: Mapped[str | None] = mapped_column(String(300), unique=True)


class Approval(Base):
    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    step: Mapped[str] = mapped_column(String(100))
    question: Mapped[str] = mapped_column(Text)
    risk: Mapped[str | None] = mapped_column(Text)
    approvers: Mapped[list[str]] = mapped_column(JsonType, default=list)
    min_approvals: Mapped[int] = mapped_column(Integer, default=1)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), index=True, default="pending")
    decisions: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    decided_at: Mapped[datetime | None]
    approval_key: Mapped[str] = mapped_column(String(300), unique=True)


class Action(Base):
    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    step: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(300))
    provider: Mapped[str] = mapped_column(String(60))
    # incident:action:target — the idempotency key every provider call is made under.
    business_key: Mapped[str] = mapped_column(String(400), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    before: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    verified: Mapped[bool | None] = mapped_column(Boolean)
    reversible: Mapped[bool] = mapped_column(Boolean, default=False)
    restored_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class EvidenceItem(Base):
    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(60))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    uri: Mapped[str] = mapped_column(Text)
    redacted_preview: Mapped[str | None] = mapped_column(Text)
    captured_at: Mapped[datetime] = mapped_column(default=utcnow)
    captured_by: Mapped[str] = mapped_column(String(200))
    evidence_key: Mapped[str] = mapped_column(String(300), unique=True)


class LegalHold(Base):
    """Evidence kept from retention and purges: one item (`evidence_id`), or every item of
    the incident, those captured later included (`evidence_id` None). Released holds stay
    as the record of who held what and why; `evidence_id` is no foreign key, so that record
    outlives the evidence once it is released and deleted."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    evidence_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(200))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_by: Mapped[str | None] = mapped_column(String(200))
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(Text)


class IncidentAssignee(Base):
    """A responder working the incident, besides its commander."""

    __tablename__ = "incident_assignees"
    __table_args__ = (UniqueConstraint("incident_id", "user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    user: Mapped[str] = mapped_column(String(200))
    added_by: Mapped[str] = mapped_column(String(200))
    via: Mapped[str] = mapped_column(String(20))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentNote(Base):
    """A responder's note, stored as written and shown only through masking. `source_key`
    names where a captured note came from (a Slack message), so a redelivery adds none."""

    __tablename__ = "incident_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    via: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    source_key: Mapped[str | None] = mapped_column(String(300), unique=True)


class IncidentTag(Base):
    __tablename__ = "incident_tags"
    __table_args__ = (UniqueConstraint("incident_id", "tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    tag: Mapped[str] = mapped_column(String(64), index=True)
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentLink(Base):
    """An edge between two incidents, stored once from the incident it was made on."""

    __tablename__ = "incident_links"
    __table_args__ = (UniqueConstraint("incident_id", "linked_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    linked_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(200))
    via: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentExternalRef(Base):
    """Where an incident lives in another tool (a Jira issue, a PagerDuty dedup key)."""

    __tablename__ = "incident_external_refs"
    __table_args__ = (UniqueConstraint("incident_id", "system"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    system: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(200), index=True)
    url: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MirrorDelivery(Base):
    """A timeline entry delivered to a mirror, under `incident:system:event_key`, so a
    retried delivery does not post it twice; `external_id` is what the tool made of it."""

    __tablename__ = "mirror_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    system: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Append-only, chained: each row's hash covers every column of the row (its id and
    entry_key included) and the previous row's hash. `keyed` rows carry an HMAC under the
    audit key; rows written before the key existed carry the old unkeyed sha256."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(300), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Business key of the writer (an activity retried), so a retry appends nothing.
    entry_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    keyed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AuditErasure(Base):
    """An audit row whose personal data an erasure request replaced (GDPR Art. 17). The
    row keeps its hash, so the chain still links; `attestation`, an HMAC under the audit
    key of the row's id, its hash and the MAC of its erased content, is what `verify`
    accepts in place of the original content. Without the key none can be forged."""

    __tablename__ = "audit_erasures"

    entry_id: Mapped[int] = mapped_column(ForeignKey("audit_log.id"), primary_key=True)
    attestation: Mapped[str] = mapped_column(String(64))
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A console account; `name` is the identity approvals and the audit log carry."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    # NULL for accounts that only sign in through the auth proxy or use API tokens.
    password_hash: Mapped[str | None] = mapped_column(String(300))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A user's bearer token for automation; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class PollerCursor(Base):
    """Where each poller has read up to, so a restart neither loses nor repeats alerts."""

    __tablename__ = "poller_cursors"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    cursor: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SchedulerLease(Base):
    """Leader lease: one scheduler fires jobs; the lease age is also its health."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    # The fencing token: one more each time the lease changes hands (leases.Fence).
    token: Mapped[int] = mapped_column(BigInteger, server_default="0")
    expires_at: Mapped[datetime]
    renewed_at: Mapped[datetime]


# --- AI inventory (AI-BOM) -------------------------------------------------------------


class InventoryApplication(Base):
    __tablename__ = "inventory_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    owner: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # A high-risk AI system under the EU AI Act (Annex III): serious incidents are reportable.
    high_risk: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class InventoryModel(Base):
    __tablename__ = "inventory_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    provider: Mapped[str] = mapped_column(String(60), default="local")
    registry_ref: Mapped[str | None] = mapped_column(String(300))
    owner: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # The third party it comes from (`inventory_suppliers.name`), told when it is compromised.
    supplier: Mapped[str | None] = mapped_column(String(200))


class InventoryModelVersion(Base):
    __tablename__ = "inventory_model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("inventory_models.id"), index=True)
    version: Mapped[str] = mapped_column(String(100))
    artifact_uri: Mapped[str | None] = mapped_column(Text)
    digest: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(30), default="active")
    known_good: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Registry aliases (`production`, `champion`) pointing at this version, as last synced.
    aliases: Mapped[list[str]] = mapped_column(JsonType, default=list, server_default="[]")


class InventoryEndpoint(Base):
    __tablename__ = "inventory_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    provider: Mapped[str] = mapped_column(String(60), default="local")
    ref: Mapped[str | None] = mapped_column(String(300))
    environment: Mapped[str] = mapped_column(String(60), default="production")
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("inventory_model_versions.id"), index=True
    )
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("inventory_applications.id"), index=True
    )
    status: Mapped[str] = mapped_column(String(30), default="serving")
    # Its OpenAI-compatible chat API, which a retest calls before containment is undone.
    chat_url: Mapped[str | None] = mapped_column(String(500))
    chat_model: Mapped[str | None] = mapped_column(String(200))
    supplier: Mapped[str | None] = mapped_column(String(200))


class InventoryApiKey(Base):
    __tablename__ = "inventory_api_keys"
    __table_args__ = (UniqueConstraint("provider", "key_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(60), default="local")
    prefix: Mapped[str | None] = mapped_column(String(40))
    owner: Mapped[str | None] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JsonType, default=list)
    status: Mapped[str] = mapped_column(String(30), default="active")
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("inventory_applications.id"), index=True
    )


class InventoryDataset(Base):
    __tablename__ = "inventory_datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    uri: Mapped[str | None] = mapped_column(Text)
    digest: Mapped[str | None] = mapped_column(String(80))
    owner: Mapped[str | None] = mapped_column(String(200))
    supplier: Mapped[str | None] = mapped_column(String(200))


class InventorySupplier(Base):
    """A third party whose model, dataset or endpoint an AI system uses, and the security
    contact to tell when that component is compromised or leaks."""

    __tablename__ = "inventory_suppliers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    security_contact: Mapped[str] = mapped_column(String(320))
    description: Mapped[str | None] = mapped_column(Text)


class InventoryPrompt(Base):
    """An application's system prompt in a prompt registry. Canaries are kept as digests
    of their normalized form only (smokejumper.canary): never shown, and useless to
    someone who reads the store to learn what to strip from an extracted prompt."""

    __tablename__ = "inventory_prompts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    provider: Mapped[str] = mapped_column(String(60), default="local")
    alias: Mapped[str] = mapped_column(String(100), default="production")
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("inventory_applications.id"), index=True
    )
    owner: Mapped[str | None] = mapped_column(String(200))
    replacement_version: Mapped[str | None] = mapped_column(String(100))
    canaries: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)


class InventoryLink(Base):
    """A typed edge, e.g. key -calls-> endpoint, model_version -trained_on-> dataset."""

    __tablename__ = "inventory_links"
    __table_args__ = (UniqueConstraint("src_type", "src_id", "relation", "dst_type", "dst_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    src_type: Mapped[str] = mapped_column(String(40))
    src_id: Mapped[int] = mapped_column(Integer)
    relation: Mapped[str] = mapped_column(String(60))
    dst_type: Mapped[str] = mapped_column(String(40))
    dst_id: Mapped[int] = mapped_column(Integer)


class IncidentTask(Base):
    """A piece of human work on an incident: who owns it, when it is due, whether it is
    done. A playbook's task carries its business key (`task_key`, unique: a retried
    activity finds the row it made) and the workflow that waits for it."""

    __tablename__ = "incident_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    owner: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[datetime | None]
    # open | done | cancelled
    state: Mapped[str] = mapped_column(String(20), default="open", index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    via: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_by: Mapped[str | None] = mapped_column(String(200))
    completed_at: Mapped[datetime | None]
    completion_note: Mapped[str | None] = mapped_column(Text)
    workflow_id: Mapped[str | None] = mapped_column(String(200))
    task_key: Mapped[str | None] = mapped_column(String(300), unique=True)
