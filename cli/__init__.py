"""The `smokejumper` command line: a composition root, above the processes it starts and
the packages it reads (playbooks, integrations)."""

import playbooks
from smokejumper.sdk.registry import use_builtin

# The core finds playbooks without importing the built-in package itself.
use_builtin(playbooks)
