from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import (
    InventoryError,
    load_inventory,
    looks_like_secret,
    read_inventory_file,
)
from smokejumper.store.db import Store
from smokejumper.store.tables import (
    InventoryApiKey,
    InventoryEndpoint,
    InventoryLink,
    InventoryModel,
    InventoryModelVersion,
    InventorySupplier,
)
from tests.inventory.helpers import EXAMPLE, example_data


def _counts(report: Any) -> dict[str, tuple[int, int, int, int]]:
    return {
        kind: (c.created, c.updated, c.unchanged, c.deleted) for kind, c in report.counts.items()
    }


def _problems(data: Any) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        load_inventory(data)
    return [str(p) for p in caught.value.problems]


def test_first_import_creates_everything(migrated_store: Store) -> None:
    report = import_inventory(migrated_store, read_inventory_file(EXAMPLE))
    assert _counts(report) == {
        "applications": (1, 0, 0, 0),
        "models": (1, 0, 0, 0),
        "model_versions": (3, 0, 0, 0),
        "datasets": (1, 0, 0, 0),
        "endpoints": (2, 0, 0, 0),
        "api_keys": (3, 0, 0, 0),
        "prompts": (0, 0, 0, 0),
        "suppliers": (0, 0, 0, 0),
        "links": (5, 0, 0, 0),
    }
    with migrated_store.session() as session:
        prod = session.scalars(
            select(InventoryEndpoint).where(InventoryEndpoint.name == "support-bot-prod")
        ).one()
        served = session.get(InventoryModelVersion, prod.model_version_id)
        assert served is not None and served.version == "1.1.0"
        key = session.scalars(
            select(InventoryApiKey).where(InventoryApiKey.key_id == "key-eval-ci")
        ).one()
        assert key.scopes == ["inference", "eval"] and key.prefix == "sj_test_ef"


def test_reimport_changes_nothing_and_edits_are_updates(migrated_store: Store) -> None:
    import_inventory(migrated_store, load_inventory(example_data()))
    again = import_inventory(migrated_store, load_inventory(example_data()))
    assert not again.changed
    assert again.total("unchanged") == 16

    data = example_data()
    data["endpoints"][0]["model"] = "support-llm@1.0.0"
    data["models"][0]["versions"][2]["known_good"] = True
    data["links"].append(
        {"from": "key:key-support-web", "relation": "calls", "to": "endpoint:support-bot-prod"}
    )
    edited = import_inventory(migrated_store, load_inventory(data))
    assert _counts(edited)["endpoints"] == (0, 1, 1, 0)
    assert _counts(edited)["model_versions"] == (0, 1, 2, 0)
    assert _counts(edited)["links"] == (1, 0, 5, 0)
    with migrated_store.session() as session:
        assert session.scalar(select(func.count()).select_from(InventoryLink)) == 6


def test_without_prune_nothing_is_deleted_and_with_prune_absent_rows_go(
    migrated_store: Store,
) -> None:
    import_inventory(migrated_store, load_inventory(example_data()))
    data = example_data()
    data["api_keys"] = [k for k in data["api_keys"] if k["key_id"] != "key-eval-ci"]
    data["links"] = [link for link in data["links"] if "key-eval-ci" not in link["from"]]
    data["models"][0]["versions"] = data["models"][0]["versions"][1:]  # drop 1.0.0

    kept = import_inventory(migrated_store, load_inventory(data))
    assert kept.total("deleted") == 0
    with migrated_store.session() as session:
        assert session.scalar(select(func.count()).select_from(InventoryApiKey)) == 3

    pruned = import_inventory(migrated_store, load_inventory(data), prune=True)
    assert _counts(pruned)["api_keys"] == (0, 0, 2, 1)
    assert _counts(pruned)["links"] == (0, 0, 4, 1)
    assert _counts(pruned)["model_versions"] == (0, 0, 2, 1)
    assert pruned.total("deleted") == 3
    with migrated_store.session() as session:
        keys = set(session.scalars(select(InventoryApiKey.key_id)))
        versions = set(session.scalars(select(InventoryModelVersion.version)))
    assert keys == {"key-support-web", "key-partner-acme"}
    assert versions == {"1.1.0", "1.2.0"}


def test_prune_with_an_empty_file_empties_the_inventory(migrated_store: Store) -> None:
    import_inventory(migrated_store, load_inventory(example_data()))
    report = import_inventory(migrated_store, load_inventory({}), prune=True)
    assert report.total("deleted") == 16
    assert not import_inventory(migrated_store, load_inventory({}), prune=True).changed


def test_reference_errors_name_their_paths() -> None:
    data = example_data()
    data["endpoints"].append({"name": "x-ep", "model": "x@1", "application": "nobody"})
    data["endpoints"].append({"name": "y-ep", "model": "support-llm@9.9.9"})
    data["api_keys"][1]["application"] = "ghost"
    data["links"].append({"from": "key:missing", "relation": "calls", "to": "endpoint:x-ep"})
    data["links"].append({"from": "widget:a", "relation": "calls", "to": "dataset:nope"})
    assert _problems(data) == [
        "endpoints[2].model: unknown model 'x'",
        "endpoints[2].application: unknown application 'nobody'",
        "endpoints[3].model: model 'support-llm' has no version '9.9.9'",
        "api_keys[1].application: unknown application 'ghost'",
        "links[5].from: unknown key 'missing'",
        "links[6].from: unknown type 'widget' in 'widget:a'; one of application, model, "
        "model_version, endpoint, key, dataset",
        "links[6].to: unknown dataset 'nope'",
    ]


def test_field_errors_name_their_paths() -> None:
    data = example_data()
    data["models"][0]["versions"][1]["digest"] = "sha256:abc"
    data["endpoints"][0]["colour"] = "red"
    problems = _problems(data)
    assert problems[0].startswith("models[0].versions[1].digest: String should match pattern")
    assert problems[1] == "endpoints[0].colour: Extra inputs are not permitted"
    assert len(problems) == 2


def test_duplicates_are_refused() -> None:
    data = example_data()
    data["endpoints"].append(dict(data["endpoints"][0]))
    assert _problems(data) == ["endpoints[2]: 'support-bot-prod' is listed twice"]


@pytest.mark.parametrize(
    "change",
    [
        {"secret": "whatever"},
        {"api_key": "x"},
        {"prefix": "sk-proj-0123456789abcdefghijABCDEFGHIJ"},
        {"key_id": "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"},
        {"key_id": "wJalrXUtnFEMI7K7MDENGbPxRfiCYEXAMPLEKEY1"},
    ],
)
def test_secret_looking_key_fields_are_refused(change: dict[str, str]) -> None:
    data = example_data()
    data["api_keys"][0].update(change)
    problems = _problems(data)
    assert len(problems) == 1
    assert problems[0].startswith("api_keys[0]")
    assert "secret" in problems[0] or "the key itself" in problems[0] or "at most" in problems[0]


def test_secret_heuristic_lets_ordinary_ids_through() -> None:
    assert not looks_like_secret("key-support-web")
    assert not looks_like_secret("3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b")
    assert not looks_like_secret("AKIAIOSFODNN7EXAMPLE")
    assert looks_like_secret("sk-0123456789abcdefghijklmnop")


def test_json_files_are_read_too(tmp_path: Path, migrated_store: Store) -> None:
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(example_data()), encoding="utf-8")
    report = import_inventory(migrated_store, read_inventory_file(path))
    assert report.total("created") == 16
    yaml_again = import_inventory(migrated_store, read_inventory_file(EXAMPLE))
    assert not yaml_again.changed


def test_the_doc_shows_the_example_file_whole() -> None:
    doc = (EXAMPLE.parents[1] / "docs" / "inventory.md").read_text(encoding="utf-8")
    block = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert block == EXAMPLE.read_text(encoding="utf-8")


def test_suppliers_are_imported_checked_and_pruned(migrated_store: Store) -> None:
    data = example_data()
    data["suppliers"] = [
        {"name": "hosted-llm", "kind": "model_provider", "security_contact": "psirt@h.example"}
    ]
    data["models"][0]["supplier"] = "hosted-llm"
    data["datasets"][0]["supplier"] = "hosted-llm"
    report = import_inventory(migrated_store, load_inventory(data))
    assert report.counts["suppliers"].created == 1
    with migrated_store.session() as session:
        [supplier] = session.scalars(select(InventorySupplier)).all()
        assert (supplier.kind, supplier.security_contact) == ("model_provider", "psirt@h.example")
        model = session.scalars(select(InventoryModel)).first()
        assert model is not None and model.supplier == "hosted-llm"

    data["endpoints"][0]["supplier"] = "nobody-we-know"
    with pytest.raises(InventoryError, match=r"endpoints\[0\].supplier: unknown supplier"):
        load_inventory(data)
    data["endpoints"][0]["supplier"] = "hosted-llm"
    data["suppliers"].append({"name": "bad", "security_contact": "not an address"})
    with pytest.raises(InventoryError, match=r"suppliers\[1\].security_contact"):
        load_inventory(data)

    pruned = import_inventory(migrated_store, load_inventory(example_data()), prune=True)
    assert pruned.counts["suppliers"].deleted == 1
