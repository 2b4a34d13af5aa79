"""The processes: the Temporal worker, the HTTP API, the scheduler, `up` (all of them with
an embedded Temporal dev server) and the demo. Each is a composition root: it assembles
the core, the built-in playbooks, the activities and the integrations.
"""

import playbooks
from smokejumper.sdk.registry import use_builtin

# The core finds playbooks without importing the built-in package itself.
use_builtin(playbooks)
