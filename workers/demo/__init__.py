"""`smokejumper demo`: every example alert fired at an engine of its own, to watch and approve.

The demo never touches a running `smokejumper up`: it writes its own configuration into its
own data directory (a temporary one unless `--data-dir` is given), picks its own ports (the
usual ones when free), and supervises its own Temporal dev server, worker, scheduler, API and
a Slack emulator the engine's Slack settings point at. It seeds what the examples name — the
example AI inventory, and its keys, endpoints and model versions in the embedded control
plane — adds a console user, fires each file of `examples/alerts/` through the HTTP API and
prints where to watch each incident and the `smokejumper approve` command of every approval
a playbook waits for. A second run on the same data directory resumes the same incidents.
"""

from workers.demo.config import Options, Ports
from workers.demo.run import main

__all__ = ["Options", "Ports", "main"]
