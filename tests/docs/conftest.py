"""The playbook testing kit's fixtures, as a project would enable them (pytest accepts
`pytest_plugins` only in the top-level conftest, so they are imported here)."""

from testkit.pytest_plugin import playbook_harness

__all__ = ["playbook_harness"]
