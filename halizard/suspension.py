"""Is HA suspended on this host? One reader for every flag that suspends it.

Why: the takeover (`suspended`), self-fencing (`ha-suspended`), the old
product (`fenced_slave`) and a master that may be a stale one after a
takeover (`master-conflict`, raised by the master cycle) each raise their
own flag under var/lib/ha-lizard; the VM jobs and `ha-cfg status` must
honour all of them the same way.

The master cannot read a slave's files, so a suspended slave also publishes
its suspension in its own host record (`HOST_KEY` in host other_config,
written through the master while it answers); the master never names such a
host its takeover slave (`suspended_hosts`).
"""
import json
import os

from halizard import paths

MASTER_CONFLICT = "master-conflict"
TAKEOVER_FLAG = "suspended"   # raised by jobs.takeover when a takeover cannot finish safely
SUSPENSION_FILES = (TAKEOVER_FLAG, "ha-suspended", "fenced_slave", MASTER_CONFLICT)
HOST_KEY = "ha-lizard-suspended"


def is_suspended(root):
    """Is HA suspended on this host, for any reason (any of SUSPENSION_FILES raised)?

    The VM jobs and `ha-cfg status` ask this: they honour every flag alike.
    """
    state_dir = paths.under(root, paths.STATE_DIR)
    return any(_raised(state_dir, name) for name in SUSPENSION_FILES)


def takeover_suspended(store):
    """Did a takeover suspend this host (only its own flag, TAKEOVER_FLAG)?

    The takeover asks this of its state store (statefiles.StateStore): it
    raises and lifts that flag itself (recover-fenced-host lifts it too),
    while the other flags belong to other jobs.
    """
    return _raised(store.directory, TAKEOVER_FLAG)


def _raised(state_dir, name):
    """One flag: a plain flag file, or a state document that is true (or a mapping whose "suspended" is
    true; a mapping without that key counts as raised when it is not empty)."""
    if os.path.exists(os.path.join(state_dir, name)):
        return True
    try:
        with open(os.path.join(state_dir, name + ".json"), encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return False
    if isinstance(value, dict):
        value = value.get("suspended", bool(value))
    return bool(value)


def suspended_hosts(host_records):
    """Uuids of the hosts whose record says their HA is suspended (other_config HOST_KEY == "true").

    host_records: XAPI host records (ref -> record, or an iterable of records).
    """
    records = host_records.values() if hasattr(host_records, "values") else host_records
    out = set()
    for rec in records:
        other = rec.get("other_config") or {}
        if str(other.get(HOST_KEY, "")).strip().lower() == "true" and rec.get("uuid"):
            out.add(rec["uuid"])
    return frozenset(out)
