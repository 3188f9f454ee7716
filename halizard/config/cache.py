"""Small JSON state files under `<root>/var/lib/ha-lizard/`: atomic and locked.

Why: the cached pool configuration is what a slave falls back on when the
master is silent; a half-written cache would be worse than none. Writes go to
a temp file in the same directory, are fsynced and renamed over the old file,
all under a filelock so concurrent writers never interleave.
"""
import json
import os
import tempfile

from filelock import FileLock, Timeout

from halizard import paths

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


def write_atomic(path, text, mode=0o600):
    """Write `text` to `path` via temp file + fsync + rename, with `mode` from the start."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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
