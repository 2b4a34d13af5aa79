"""Which database errors mean the store is unavailable (unreachable, connection cut, every
pooled connection busy, SQLite locked past its timeout) rather than a fault in what was
asked of it. An outage is worth retrying: callers answer 503 with Retry-After. Anything
else (a constraint, a value out of range) is not, and stays an error."""

from __future__ import annotations

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

STORE_OUTAGE: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeout)
