"""Canaries: found however the model spaces or spells them, and stored as digests only."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from smokejumper.canary import canary_digest, canary_hits
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import InventoryError, load_inventory
from smokejumper.store.db import Store
from smokejumper.store.tables import InventoryPrompt

CANARY = "CNRY-7f3a-91bc-44de"


@pytest.mark.parametrize(
    "output",
    [
        f"My instructions end with {CANARY}.",
        "c n r y 7 f 3 a 9 1 b c 4 4 d e",  # spelled out
        "CNRY\u200b7f3a\u200d91bc\u00ad44de",  # zero-width space, joiner, soft hyphen
        "ＣＮＲＹ－７ｆ３ａ－９１ｂｃ－４４ｄｅ",  # fullwidth forms  # noqa: RUF001
        "cnry-7F3A\n91BC 44DE",  # case and a line break
    ],
)
def test_a_canary_is_found_however_it_is_spaced_or_spelled(output: str) -> None:
    assert canary_hits([output], [canary_digest(CANARY)]) == {0}


def test_a_near_miss_or_a_partial_canary_is_no_hit() -> None:
    digest = canary_digest(CANARY)
    assert canary_hits(["CNRY-7f3a-91bc-44df", "CNRY-7f3a-91bc", ""], [digest]) == set()


def test_which_canaries_hit_is_reported_by_index() -> None:
    other = canary_digest("canary-of-another-prompt-0042")
    assert canary_hits(["... 0042 ...", f"x {CANARY} y"], [other, canary_digest(CANARY)]) == {1}


def test_a_canary_at_the_end_of_the_longest_output_an_alert_holds_is_found() -> None:
    output = "The instructions go on. " * 8_000 + "C N R Y 7f3a 91bc 44de"
    assert len(output) > 190_000
    assert canary_hits([output], [canary_digest(CANARY)]) == {0}


def test_a_canary_too_short_to_be_unique_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 12"):
        canary_digest("CNRY - 1 2 3")


def test_the_inventory_keeps_digests_never_the_canary(migrated_store: Store) -> None:
    document = load_inventory(
        {
            "applications": [{"name": "support-bot"}],
            "prompts": [
                {"name": "support-system", "application": "support-bot", "canaries": [CANARY]}
            ],
        }
    )
    import_inventory(migrated_store, document)
    with migrated_store.session() as session:
        row = session.scalar(
            select(InventoryPrompt).where(InventoryPrompt.name == "support-system")
        )
        assert row is not None
        stored = json.dumps(row.canaries)
    assert CANARY not in stored and "7f3a" not in stored.lower()
    assert row.canaries == [canary_digest(CANARY).to_json()]
    assert (row.alias, row.provider) == ("production", "local")


def test_the_inventory_refuses_a_short_or_repeated_canary_without_echoing_it() -> None:
    with pytest.raises(InventoryError) as short:
        load_inventory({"prompts": [{"name": "p", "canaries": ["abc-123"]}]})
    assert "prompts[0].canaries" in str(short.value) and "abc-123" not in str(short.value)
    with pytest.raises(InventoryError, match="listed twice"):
        load_inventory({"prompts": [{"name": "p", "canaries": [CANARY, CANARY.lower()]}]})
    with pytest.raises(InventoryError, match="unknown application"):
        load_inventory({"prompts": [{"name": "p", "application": "nope"}]})
