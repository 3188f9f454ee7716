"""Is HA suspended on this host? One reader for every flag that suspends it.

Why: the takeover (`suspended`), self-fencing (`ha-suspended`) and the old
product (`fenced_slave`) each raise their own flag under var/lib/ha-lizard;
the VM jobs and `ha-cfg status` must honour all of them the same way.
"""
import json
import os

from halizard import paths

SUSPENSION_FILES = ("suspended", "ha-suspended", "fenced_slave")


def is_suspended(root):
    """True when any suspension flag says so: a plain flag file, or a state document that is true
    (or a mapping whose "suspended" is true)."""
    state_dir = paths.under(root, paths.STATE_DIR)
    for name in SUSPENSION_FILES:
        if os.path.exists(os.path.join(state_dir, name)):
            return True
        try:
            with open(os.path.join(state_dir, name + ".json"), encoding="utf-8") as handle:
                value = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(value, dict):
            value = value.get("suspended", bool(value))
        if value:
            return True
    return False
