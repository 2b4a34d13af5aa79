"""The inventory's key prefixes as redaction patterns: an organisation's own key format
(`sj_live_ab…`) is a secret the built-in detectors do not know."""

from __future__ import annotations

from sqlalchemy import select

from smokejumper.config import Settings
from smokejumper.leakage import MIN_PREFIX, prefix_patterns
from smokejumper.redaction import Redactor
from smokejumper.store.db import Store
from smokejumper.store.tables import InventoryApiKey


def key_prefixes(store: Store) -> dict[str, str]:
    """Prefix → key id, for every inventory key that records a prefix."""
    with store.session() as session:
        rows = session.execute(select(InventoryApiKey.prefix, InventoryApiKey.key_id)).all()
    return {prefix: key_id for prefix, key_id in rows if prefix and len(prefix) >= MIN_PREFIX}


def redactor_for(store: Store, settings: Settings) -> Redactor:
    """The configured patterns plus the inventory's key prefixes."""
    patterns = {**settings.evidence.redaction_patterns, **prefix_patterns(key_prefixes(store))}
    return Redactor(patterns)
