"""The incident store: SQLAlchemy tables, sessions and Alembic migrations."""
