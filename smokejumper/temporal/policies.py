"""Explicit retry policies and timeouts; activities never rely on SDK defaults."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Bookkeeping against our own store: retry patiently, a database blip must not fail
# an incident, but not forever (about 30 minutes of attempts).
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=40,
    non_retryable_error_types=["ValueError"],
)
STORE_TIMEOUT = timedelta(seconds=30)
