"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_subject"), ["subject"], unique=False)

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column(
            "errors", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("raw_body", sa.Text(), nullable=False),
        sa.Column(
            "headers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("remote_addr", sa.String(length=100), nullable=True),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replay_alert_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dead_letters_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dead_letters_source"), ["source"], unique=False)

    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("open_key", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("playbook", sa.String(length=100), nullable=True),
        sa.Column(
            "route", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("workflow_id", sa.String(length=120), nullable=False),
        sa.Column(
            "principal", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "target", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "labels", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "owasp", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "atlas", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contained_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("open_key", name=op.f("uq_incidents_open_key")),
        sa.UniqueConstraint("ref", name=op.f("uq_incidents_ref")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_fingerprint"), ["fingerprint"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_opened_at"), ["opened_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_playbook"), ["playbook"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_severity"), ["severity"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_workflow_id"), ["workflow_id"], unique=False)

    op.create_table(
        "inventory_applications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_applications")),
        sa.UniqueConstraint("name", name=op.f("uq_inventory_applications_name")),
    )
    op.create_table(
        "inventory_datasets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("digest", sa.String(length=80), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_datasets")),
        sa.UniqueConstraint("name", name=op.f("uq_inventory_datasets_name")),
    )
    op.create_table(
        "inventory_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("src_type", sa.String(length=40), nullable=False),
        sa.Column("src_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=60), nullable=False),
        sa.Column("dst_type", sa.String(length=40), nullable=False),
        sa.Column("dst_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_links")),
        sa.UniqueConstraint(
            "src_type",
            "src_id",
            "relation",
            "dst_type",
            "dst_id",
            name=op.f("uq_inventory_links_src_type"),
        ),
    )
    op.create_table(
        "inventory_models",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=60), nullable=False),
        sa.Column("registry_ref", sa.String(length=300), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_models")),
        sa.UniqueConstraint("name", name=op.f("uq_inventory_models_name")),
    )
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("provider", sa.String(length=60), nullable=False),
        sa.Column("business_key", sa.String(length=400), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "before", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "after", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("verified", sa.Boolean(), nullable=True),
        sa.Column("reversible", sa.Boolean(), nullable=False),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_actions_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actions")),
        sa.UniqueConstraint("business_key", name=op.f("uq_actions_business_key")),
    )
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_actions_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("deduplicated", sa.Boolean(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column(
            "normalized", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatch_attempts", sa.Integer(), nullable=False),
        sa.Column("dispatch_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_alerts_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alerts_dispatched_at"), ["dispatched_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_alerts_fingerprint"), ["fingerprint"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_source"), ["source"], unique=False)

    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=100), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("risk", sa.Text(), nullable=True),
        sa.Column(
            "approvers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("min_approvals", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "decisions", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approval_key", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_approvals_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        sa.UniqueConstraint("approval_key", name=op.f("uq_approvals_approval_key")),
    )
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approvals_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_approvals_status"), ["status"], unique=False)

    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("redacted_preview", sa.Text(), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("captured_by", sa.String(length=200), nullable=False),
        sa.Column("evidence_key", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_evidence_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
        sa.UniqueConstraint("evidence_key", name=op.f("uq_evidence_evidence_key")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "inventory_api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key_id", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=60), nullable=False),
        sa.Column("prefix", sa.String(length=40), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column(
            "scopes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["inventory_applications.id"],
            name=op.f("fk_inventory_api_keys_application_id_inventory_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_api_keys")),
        sa.UniqueConstraint("provider", "key_id", name=op.f("uq_inventory_api_keys_provider")),
    )
    with op.batch_alter_table("inventory_api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inventory_api_keys_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "inventory_model_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("artifact_uri", sa.Text(), nullable=True),
        sa.Column("digest", sa.String(length=80), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("known_good", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["inventory_models.id"],
            name=op.f("fk_inventory_model_versions_model_id_inventory_models"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_model_versions")),
        sa.UniqueConstraint(
            "model_id", "version", name=op.f("uq_inventory_model_versions_model_id")
        ),
    )
    with op.batch_alter_table("inventory_model_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inventory_model_versions_model_id"), ["model_id"], unique=False
        )

    op.create_table(
        "timeline_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("step", sa.String(length=100), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("event_key", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_timeline_events_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_timeline_events_event_key")),
    )
    with op.batch_alter_table("timeline_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_timeline_events_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "inventory_endpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=60), nullable=False),
        sa.Column("ref", sa.String(length=300), nullable=True),
        sa.Column("environment", sa.String(length=60), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["inventory_applications.id"],
            name=op.f("fk_inventory_endpoints_application_id_inventory_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["inventory_model_versions.id"],
            name=op.f("fk_inventory_endpoints_model_version_id_inventory_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_endpoints")),
        sa.UniqueConstraint("name", name=op.f("uq_inventory_endpoints_name")),
    )
    with op.batch_alter_table("inventory_endpoints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inventory_endpoints_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inventory_endpoints_model_version_id"),
            ["model_version_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("inventory_endpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_endpoints_model_version_id"))
        batch_op.drop_index(batch_op.f("ix_inventory_endpoints_application_id"))

    op.drop_table("inventory_endpoints")
    with op.batch_alter_table("timeline_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timeline_events_incident_id"))

    op.drop_table("timeline_events")
    with op.batch_alter_table("inventory_model_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_model_versions_model_id"))

    op.drop_table("inventory_model_versions")
    with op.batch_alter_table("inventory_api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_api_keys_application_id"))

    op.drop_table("inventory_api_keys")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_incident_id"))

    op.drop_table("evidence")
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approvals_status"))
        batch_op.drop_index(batch_op.f("ix_approvals_incident_id"))

    op.drop_table("approvals")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_source"))
        batch_op.drop_index(batch_op.f("ix_alerts_received_at"))
        batch_op.drop_index(batch_op.f("ix_alerts_kind"))
        batch_op.drop_index(batch_op.f("ix_alerts_incident_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_fingerprint"))
        batch_op.drop_index(batch_op.f("ix_alerts_dispatched_at"))

    op.drop_table("alerts")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_actions_incident_id"))

    op.drop_table("actions")
    op.drop_table("scheduler_leases")
    op.drop_table("inventory_models")
    op.drop_table("inventory_links")
    op.drop_table("inventory_datasets")
    op.drop_table("inventory_applications")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_workflow_id"))
        batch_op.drop_index(batch_op.f("ix_incidents_status"))
        batch_op.drop_index(batch_op.f("ix_incidents_severity"))
        batch_op.drop_index(batch_op.f("ix_incidents_playbook"))
        batch_op.drop_index(batch_op.f("ix_incidents_opened_at"))
        batch_op.drop_index(batch_op.f("ix_incidents_kind"))
        batch_op.drop_index(batch_op.f("ix_incidents_fingerprint"))

    op.drop_table("incidents")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letters_source"))
        batch_op.drop_index(batch_op.f("ix_dead_letters_received_at"))

    op.drop_table("dead_letters")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_subject"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")
