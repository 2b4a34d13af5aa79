"""Checking a model version's provenance: its artifact and its training datasets, hashed."""

from __future__ import annotations

from datetime import timedelta

from smokejumper.contracts.base import CONTAINMENT, Contract, RetryClass
from smokejumper.domain.integrity import IntegrityQuery, IntegrityReport

# Hashing a model and its datasets reads every byte of them: minutes for large ones. Only
# reads, so an attempt cut short is simply made again.
HASHING = RetryClass("hashing", CONTAINMENT.policy, timedelta(minutes=30))

VERIFY_INTEGRITY = Contract(
    "verify_integrity",
    IntegrityQuery,
    IntegrityReport,
    retry=HASHING,
    description="Hash the model version's artifact and the datasets the inventory links it "
    "to, and compare each with the inventory's digest.",
)
