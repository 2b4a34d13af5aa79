"""Migrations bring an empty SQLite or PostgreSQL database to a schema equal to the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from smokejumper.store.db import make_engine
from smokejumper.store.migrate import current_revision, head_revision, upgrade
from smokejumper.store.tables import Base

REQUIRED_TABLES = {
    "alerts",
    "dead_letters",
    "incidents",
    "timeline_events",
    "approvals",
    "actions",
    "evidence",
    "audit_log",
    "inventory_models",
    "inventory_model_versions",
    "inventory_endpoints",
    "inventory_api_keys",
    "inventory_datasets",
    "inventory_applications",
    "inventory_links",
}


def test_upgrade_creates_every_table_and_matches_the_models(database_url: str) -> None:
    assert current_revision(database_url) is None
    assert upgrade(database_url) == head_revision()
    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert REQUIRED_TABLES <= tables
        with engine.connect() as connection:
            diff = compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": True}),
                Base.metadata,
            )
        assert diff == [], f"models and migrations disagree: {diff}"
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(database_url: str) -> None:
    first = upgrade(database_url)
    assert upgrade(database_url) == first
