"""Shared state files under `<root>/var/lib/ha-lizard/`: atomic, locked, never trusted.

Why: the old product rewrote its state files in the background while other
processes read them. Here every write goes to a temp file in the same
directory, is fsynced and renamed over the old one, so a reader sees either
the old or the new content, never half of it. Writers serialise through a
file lock (`update()` is a locked read-modify-write). A file that does not
parse is ignored with a warning and rebuilt from the caller's default: state
is a cache, never an authority.

    store = StateStore(root)
    view = store.read("pool-view", {})
    store.write("pool-view", {"hosts": [...]})
"""
import json
import os
import re

from filelock import FileLock
from filelock import Timeout as LockTimeout
from loguru import logger

from halizard import paths
from halizard.atomicfile import write_atomic

log = logger.bind(function="statefiles")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")
SUFFIX = ".json"


class StateError(Exception):
    """A state file could not be written (bad name, unusable directory, lock busy)."""


def _check_name(name):
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise StateError("invalid state file name %r (letters, digits, '.', '_', '-' only)" % (name,))


def _same_shape(value, default):
    """Reject a parsed value whose type does not match the default's (e.g. a list where a dict belongs)."""
    if default is None:
        return True
    for kind in (dict, list, str, bool):
        if isinstance(default, kind):
            return isinstance(value, kind)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


class StateStore:
    """Named JSON documents in one directory (default `<root>/var/lib/ha-lizard`)."""

    def __init__(self, root=None, directory=None, lock_timeout=15.0):
        self.directory = directory or paths.under(root, paths.STATE_DIR)
        self.lock_timeout = lock_timeout

    def path(self, name):
        _check_name(name)
        return os.path.join(self.directory, name + SUFFIX)

    def _lock(self, name):
        os.makedirs(self.directory, mode=0o755, exist_ok=True)
        return FileLock(os.path.join(self.directory, "." + name + ".lock"), timeout=self.lock_timeout)

    def read(self, name, default=None):
        """The stored value, or `default` when missing, unreadable or corrupt (with a warning).

        Lock-free on purpose: writes are atomic renames, so a reader never sees
        a partial file, and a read-only directory stays readable.
        """
        target = self.path(name)
        try:
            with open(target, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return default
        except OSError as exc:
            log.warning("state file {} unreadable ({}); using the default", target, exc.strerror or exc)
            return default
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            log.warning("state file {} is corrupt; ignored, it will be rebuilt", target)
            self._set_aside(target)
            return default
        if not _same_shape(value, default):
            log.warning("state file {} holds a {} where a {} belongs; ignored, it will be rebuilt",
                        target, type(value).__name__, type(default).__name__)
            self._set_aside(target)
            return default
        return value

    @staticmethod
    def _set_aside(target):
        """Keep a corrupt file for inspection as `<name>.json.corrupt`; best effort."""
        try:
            os.replace(target, target + ".corrupt")
        except OSError:
            pass

    def write(self, name, value):
        """Atomically replace `name` with `value` (JSON). Raises StateError; nothing half-written."""
        self.path(name)
        data = self._encode(name, value)
        try:
            with self._lock(name):
                self._write_locked(name, data)
        except LockTimeout:
            raise StateError("state file %s is locked by another process" % self.path(name)) from None
        except OSError as exc:
            raise StateError("cannot write state file %s: %s" % (self.path(name), exc.strerror or exc)) from None

    def update(self, name, change, default=None):
        """Locked read-modify-write: stores and returns `change(current)`."""
        self.path(name)
        try:
            with self._lock(name):
                new = change(self.read(name, default))
                self._write_locked(name, self._encode(name, new))
                return new
        except LockTimeout:
            raise StateError("state file %s is locked by another process" % self.path(name)) from None
        except OSError as exc:
            raise StateError("cannot write state file %s: %s" % (self.path(name), exc.strerror or exc)) from None

    def remove(self, name):
        """Delete `name` if present (e.g. a cleared flag)."""
        try:
            with self._lock(name):
                os.unlink(self.path(name))
        except FileNotFoundError:
            pass
        except LockTimeout:
            raise StateError("state file %s is locked by another process" % self.path(name)) from None
        except OSError as exc:
            raise StateError("cannot remove state file %s: %s" % (self.path(name), exc.strerror or exc)) from None

    def _encode(self, name, value):
        try:
            return (json.dumps(value, sort_keys=True, indent=1) + "\n").encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise StateError("state %s is not JSON-serialisable: %s" % (name, exc)) from None

    def _write_locked(self, name, data):
        write_atomic(self.path(name), data, mode=0o644)
