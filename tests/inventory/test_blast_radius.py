from __future__ import annotations

import pytest

from smokejumper.inventory.blast_radius import BlastRadius, TargetError, blast_radius
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import load_inventory
from smokejumper.store.db import Store
from tests.inventory.helpers import example_data


@pytest.fixture
def store(migrated_store: Store) -> Store:
    import_inventory(migrated_store, load_inventory(example_data()))
    return migrated_store


def _sets(radius: BlastRadius) -> dict[str, set[str]]:
    return {
        "models": radius.models,
        "model_versions": radius.model_versions,
        "endpoints": radius.endpoints,
        "keys": radius.keys,
        "applications": radius.applications,
        "datasets": radius.datasets,
    }


def test_from_a_model_version_reaches_derived_versions_and_their_callers(store: Store) -> None:
    # 1.2.0 is fine-tuned from 1.1.0, so a bad 1.1.0 taints staging too.
    assert _sets(blast_radius(store, "model:support-llm@1.1.0")) == {
        "models": {"support-llm"},
        "model_versions": {"support-llm@1.1.0", "support-llm@1.2.0"},
        "endpoints": {"support-bot-prod", "support-bot-staging"},
        "keys": {"key-support-web", "key-partner-acme", "key-eval-ci"},
        "applications": {"support-bot"},
        "datasets": {"support-tickets-2026q3"},
    }


def test_from_a_leaf_version_stays_on_its_endpoint(store: Store) -> None:
    assert _sets(blast_radius(store, "model:support-llm@1.2.0")) == {
        "models": {"support-llm"},
        "model_versions": {"support-llm@1.2.0"},
        "endpoints": {"support-bot-staging"},
        "keys": {"key-support-web", "key-eval-ci"},
        "applications": {"support-bot"},
        "datasets": {"support-tickets-2026q3"},
    }


def test_an_unserved_version_reaches_no_endpoint(store: Store) -> None:
    assert _sets(blast_radius(store, "model:support-llm@1.0.0")) == {
        "models": {"support-llm"},
        "model_versions": {"support-llm@1.0.0"},
        "endpoints": set(),
        "keys": set(),
        "applications": set(),
        "datasets": set(),
    }


def test_from_a_key_reaches_what_it_can_call_and_no_other_key(store: Store) -> None:
    radius = blast_radius(store, "key:key-partner-acme")
    assert _sets(radius) == {
        "models": {"support-llm"},
        "model_versions": {"support-llm@1.1.0"},
        "endpoints": {"support-bot-prod"},
        "keys": {"key-partner-acme"},
        "applications": {"support-bot"},
        "datasets": {"support-tickets-2026q3"},
    }
    assert radius.key_endpoints == {"key-partner-acme": {"support-bot-prod"}}


def test_an_application_key_reaches_every_endpoint_of_its_application(store: Store) -> None:
    radius = blast_radius(store, "key:local/key-support-web")
    assert radius.endpoints == {"support-bot-prod", "support-bot-staging"}
    assert radius.keys == {"key-support-web"}
    assert radius.model_versions == {"support-llm@1.1.0", "support-llm@1.2.0"}


def test_from_an_endpoint(store: Store) -> None:
    radius = blast_radius(store, "endpoint:support-bot-prod")
    assert _sets(radius) == {
        "models": {"support-llm"},
        "model_versions": {"support-llm@1.1.0"},
        "endpoints": {"support-bot-prod"},
        "keys": {"key-support-web", "key-partner-acme"},
        "applications": {"support-bot"},
        "datasets": {"support-tickets-2026q3"},
    }
    assert radius.serves == {"support-bot-prod": "support-llm@1.1.0"}


def test_from_a_dataset_and_from_a_whole_model(store: Store) -> None:
    from_dataset = _sets(blast_radius(store, "dataset:support-tickets-2026q3"))
    assert from_dataset["model_versions"] == {"support-llm@1.1.0", "support-llm@1.2.0"}
    assert from_dataset["keys"] == {"key-support-web", "key-partner-acme", "key-eval-ci"}
    from_model = _sets(blast_radius(store, "model:support-llm"))
    assert from_model["model_versions"] == {
        "support-llm@1.0.0",
        "support-llm@1.1.0",
        "support-llm@1.2.0",
    }
    assert from_model["endpoints"] == {"support-bot-prod", "support-bot-staging"}


def test_from_an_application(store: Store) -> None:
    assert _sets(blast_radius(store, "application:support-bot")) == {
        "models": {"support-llm"},
        "model_versions": {"support-llm@1.1.0", "support-llm@1.2.0"},
        "endpoints": {"support-bot-prod", "support-bot-staging"},
        "keys": {"key-support-web"},
        "applications": {"support-bot"},
        "datasets": {"support-tickets-2026q3"},
    }


def test_derivation_cycles_are_bounded(migrated_store: Store) -> None:
    data = example_data()
    data["links"].append(
        {
            "from": "model:support-llm@1.1.0",
            "relation": "fine_tuned_from",
            "to": "model:support-llm@1.2.0",
        }
    )
    import_inventory(migrated_store, load_inventory(data))
    radius = blast_radius(migrated_store, "model:support-llm@1.2.0")
    assert radius.model_versions == {"support-llm@1.1.0", "support-llm@1.2.0"}


@pytest.mark.parametrize(
    ("target", "usage"),
    [("model:nope", False), ("key:who", False), ("nonsense", True), ("gadget:x", True)],
)
def test_bad_targets(store: Store, target: str, usage: bool) -> None:
    with pytest.raises(TargetError) as caught:
        blast_radius(store, target)
    assert caught.value.usage is usage
