"""The embedded control plane: block principals, filter prompts, quarantine documents."""

from __future__ import annotations

from smokejumper.contracts.base import Contract
from smokejumper.contracts.rehearsals import rehearsed_action
from smokejumper.domain.containment import (
    ActionResult,
    DocumentAction,
    FilterRuleAction,
    PrincipalAction,
)

UNBLOCK_PRINCIPAL = Contract(
    "unblock_principal",
    PrincipalAction,
    ActionResult,
    rehearse=rehearsed_action("unblock_principal"),
    description="Lift a block.",
)
BLOCK_PRINCIPAL = Contract(
    "block_principal",
    PrincipalAction,
    ActionResult,
    undo=UNBLOCK_PRINCIPAL,
    rehearse=rehearsed_action("block_principal"),
    description="Refuse a user, session or key at the gateway until the block expires.",
)
REMOVE_FILTER_RULE = Contract(
    "remove_filter_rule",
    FilterRuleAction,
    ActionResult,
    rehearse=rehearsed_action("remove_filter_rule"),
    description="Remove an input-filter rule.",
)
ADD_FILTER_RULE = Contract(
    "add_filter_rule",
    FilterRuleAction,
    ActionResult,
    undo=REMOVE_FILTER_RULE,
    rehearse=rehearsed_action("add_filter_rule"),
    description="Refuse prompts matching a pattern or canary at the gateway.",
)
RELEASE_DOCUMENT = Contract(
    "release_document",
    DocumentAction,
    ActionResult,
    rehearse=rehearsed_action("release_document"),
    description="Return a quarantined document to retrieval results.",
)
QUARANTINE_DOCUMENT = Contract(
    "quarantine_document",
    DocumentAction,
    ActionResult,
    undo=RELEASE_DOCUMENT,
    rehearse=rehearsed_action("quarantine_document"),
    description="Leave a retrieval document out of results until released.",
)
