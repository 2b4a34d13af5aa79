"""docs/deploy.md walks through what deploy/ holds: every file, every secret a user must
make, and links that lead somewhere."""

from __future__ import annotations

import re

from tests.deploy import artefacts

DOC = artefacts.ROOT / "docs" / "deploy.md"


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def test_every_artefact_is_in_the_guide() -> None:
    text = _text()
    for path in [artefacts.CONTAINERFILE, artefacts.COMPOSE, artefacts.COMPOSE_ENV_EXAMPLE]:
        assert f"deploy/{path.name}" in text or path.name in text, path.name
    for path in artefacts.manifest_files():
        assert f"`{path.name}`" in text, path.name


def test_every_secret_a_user_makes_is_named_and_explained() -> None:
    text = _text()
    for name in artefacts.compose_variables():
        assert f"| `{name}` |" in text, f"{name} is not in the Compose table"
    for key in artefacts.secret_data():
        assert f"| `{key}` |" in text, f"{key} is not in the Secret table"
        assert f"--from-literal={key}=" in text, f"{key} is not in the kubectl example"


def test_the_guide_links_lead_somewhere() -> None:
    links = re.findall(r"\]\(([^)#\s]+\.md)(?:#([^)\s]+))?\)", _text())
    assert links
    for target, anchor in links:
        path = DOC.parent / target
        assert path.is_file(), target
        if anchor:
            headings = re.findall(r"^#+ (.+)$", path.read_text("utf-8"), re.M)
            assert anchor in {_anchor(h) for h in headings}, f"{target}#{anchor}"
