"""The self_fence job's beat file: until when the job is known to act (read by the watchdog backstop).

Why apart: the job writes it and the supervisor's backstop
(halizard.supervisor.watchdog) reads it; the supervisor is the layer above.
"""
import os

from halizard import paths
from halizard.atomicfile import write_atomic
from halizard.probes import clock

BEAT_NAME = "self-fence.beat"


def beat_path(root):
    return os.path.join(paths.under(root, paths.RUN_DIR), BEAT_NAME)


def write_beat(root, valid_until):
    """The self_fence job acts until `valid_until` (clock.now() time); atomic (on the run directory, a tmpfs)."""
    path = beat_path(root)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    write_atomic(path, "%s %.3f\n" % (clock.boot_id(), valid_until), mode=0o600)


def read_beat(root):
    """The last beat's valid-until time, or None (no beat, unreadable, or from another boot)."""
    try:
        with open(beat_path(root), encoding="ascii") as handle:
            boot, until = handle.read().split()
        return float(until) if boot == clock.boot_id() else None
    except (OSError, ValueError):
        return None
