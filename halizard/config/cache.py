"""Small JSON state files under `<root>/var/lib/ha-lizard/`: atomic and locked.

Why: the cached pool configuration is what a slave falls back on when the
master is silent; a half-written cache would be worse than none. Writes go to
halizard.atomicfile.write_atomic (temp file, fsync, rename, directory fsync),
all under a filelock so concurrent writers never interleave.
"""
import json
import os

from filelock import FileLock, Timeout

from halizard import paths
from halizard.atomicfile import write_atomic

LOCK_TIMEOUT = 5.0


def state_path(root, name):
    return paths.under(root, os.path.join(paths.STATE_DIR, name))


def write_json(root, name, obj, mode=0o600):
    """Atomically replace state file `name` with `obj` as JSON."""
    path = state_path(root, name)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    with FileLock(path + ".lock", timeout=LOCK_TIMEOUT):
        write_atomic(path, json.dumps(obj, indent=1, sort_keys=True) + "\n", mode)


def read_json(root, name):
    """The state file's content, or None when missing, locked too long or corrupt."""
    path = state_path(root, name)
    if not os.path.exists(path):
        return None
    try:
        with FileLock(path + ".lock", timeout=LOCK_TIMEOUT):
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
    except (OSError, ValueError, Timeout):
        return None
