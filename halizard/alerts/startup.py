"""How many HA cycles the service has run since it started: no mail during the first two.

Why: the old product mailed nothing during its first two cycles after a
start, because a booting pool looks broken for a moment (hosts still joining,
VMs still starting) and a reboot must not flood the admin. Job processes do
not know the service's history, so the start time is read from what the
supervisor leaves on disk:

1. the state file `service-start.json` (`{"started": epoch, "pid": n}`) if the
   supervisor writes one, else
2. the modification time of its pid file `<root>/run/ha-lizard/ha-lizard.pid`
   (written once, when the service takes its instance lock),

in both cases only while that pid is alive. One cycle is MONITOR_DELAY
seconds. No running service (e.g. the CLI on a stopped host): no gate.
"""

import os
import time

from halizard import paths
from halizard.statefiles import StateStore

PID_FILE = "ha-lizard.pid"
START_STATE = "service-start"
QUIET_CYCLES = 2


def _alive(pid):
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError, OverflowError):
        return False
    return True


def service_started(root):
    """Epoch seconds the running service started, or None when no service runs."""
    try:

        record = StateStore(root).read(START_STATE, {})
    except Exception:
        record = {}
    if isinstance(record.get("started"), (int, float)) and _alive(record.get("pid")):
        return float(record["started"])
    path = os.path.join(paths.under(root, paths.RUN_DIR), PID_FILE)
    try:
        with open(path) as handle:
            pid = handle.read().strip()
        started = os.stat(path).st_mtime
    except OSError:
        return None
    return started if pid.isdigit() and _alive(pid) else None


def cycles_since_start(root, monitor_delay, now=None):
    """Whole cycles completed since the service started (None: no service running)."""
    started = service_started(root)
    if started is None:
        return None
    moment = time.time() if now is None else now
    delay = max(float(monitor_delay), 0.001)
    return max(0, int((moment - started) // delay))


def in_quiet_start(cycles):
    return cycles is not None and cycles < QUIET_CYCLES
