"""Alembic environment: migrations run against the URL set by smokejumper.store.migrate."""

from __future__ import annotations

from alembic import context

from smokejumper.store.db import make_engine
from smokejumper.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("sqlalchemy.url is not set")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=url.startswith("sqlite"),
                compare_type=True,
            )
            context.run_migrations()
    finally:
        engine.dispose()


run_migrations()
