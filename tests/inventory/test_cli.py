from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from cli.main import app
from smokejumper.store.migrate import upgrade
from tests.inventory.helpers import EXAMPLE, example_data


def _run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        app, ["inventory", *args], env={"SMOKEJUMPER_DATABASE_URL": database_url}
    )


def test_import_twice_then_list_and_blast_radius(database_url: str) -> None:
    upgrade(database_url)
    first = _run(database_url, "import", str(EXAMPLE))
    assert first.exit_code == 0, first.output
    assert "16 created, 0 updated, 0 unchanged" in first.output

    second = _run(database_url, "import", str(EXAMPLE), "--json")
    assert second.exit_code == 0, second.output
    totals = json.loads(second.output)["totals"]
    assert totals == {"created": 0, "updated": 0, "unchanged": 16, "deleted": 0}

    listed = _run(database_url, "list", "--json")
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.output)
    assert [e["name"] for e in data["endpoints"]] == ["support-bot-prod", "support-bot-staging"]
    assert {k["key_id"] for k in data["api_keys"]} == {
        "key-support-web",
        "key-partner-acme",
        "key-eval-ci",
    }
    human = _run(database_url, "list")
    assert "support-bot-staging  staging" in human.output
    assert "links (5)" in human.output

    tree = _run(database_url, "blast-radius", "endpoint:support-bot-prod")
    assert tree.exit_code == 0, tree.output
    assert tree.output.splitlines() == [
        "blast radius of endpoint:support-bot-prod",
        "├── model support-llm",
        "│   └── version 1.1.0",
        "│       ├── trained on dataset support-tickets-2026q3",
        "│       └── endpoint support-bot-prod",
        "│           ├── key key-partner-acme",
        "│           └── key key-support-web",
        "└── applications: support-bot",
        "1 model versions, 1 endpoints, 2 keys, 1 applications, 1 datasets",
    ]
    as_json = _run(database_url, "blast-radius", "key:key-eval-ci", "--json")
    assert as_json.exit_code == 0, as_json.output
    radius = json.loads(as_json.output)
    assert radius["endpoints"] == ["support-bot-staging"]
    assert radius["model_versions"] == ["support-llm@1.2.0"]


def test_prune_from_the_cli(database_url: str, tmp_path: Path) -> None:
    upgrade(database_url)
    assert _run(database_url, "import", str(EXAMPLE)).exit_code == 0
    data = example_data()
    data["links"] = []
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    kept = _run(database_url, "import", str(path))
    assert kept.exit_code == 0 and "0 created, 0 updated, 11 unchanged" in kept.output
    pruned = _run(database_url, "import", str(path), "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert "11 unchanged, 5 deleted" in pruned.output


def test_invalid_file_exits_2_naming_fields(database_url: str, tmp_path: Path) -> None:
    upgrade(database_url)
    data = example_data()
    data["endpoints"][0]["model"] = "x@1"
    data["api_keys"][0]["secret"] = "sk-live-whatever"
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = _run(database_url, "import", str(path))
    assert result.exit_code == 2
    assert "api_keys[0]: Value error, field 'secret' would hold the key itself" in result.output
    assert "sk-live-whatever" not in result.output
    assert "error: " in result.output

    missing = _run(database_url, "import", str(tmp_path / "absent.yaml"))
    assert missing.exit_code == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("models: [unclosed", encoding="utf-8")
    assert _run(database_url, "import", str(broken)).exit_code == 2


def test_reference_error_output(database_url: str, tmp_path: Path) -> None:
    upgrade(database_url)
    data = example_data()
    data["endpoints"][1]["model"] = "x@1"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = _run(database_url, "import", str(path))
    assert result.exit_code == 2
    assert "  endpoints[1].model: unknown model 'x'" in result.output


def test_blast_radius_exit_codes(database_url: str) -> None:
    upgrade(database_url)
    assert _run(database_url, "import", str(EXAMPLE)).exit_code == 0
    assert _run(database_url, "blast-radius", "endpoint:nope").exit_code == 1
    assert _run(database_url, "blast-radius", "nope").exit_code == 2


def test_unmigrated_database_is_a_configuration_error(database_url: str) -> None:
    result = _run(database_url, "list")
    assert result.exit_code == 2
    assert "smokejumper db upgrade" in result.output
