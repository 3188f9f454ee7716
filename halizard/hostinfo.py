"""What a dom0 says about itself in its files: role, master address, own UUID.

Read-only helpers over /etc/xensource/pool.conf and /etc/xensource-inventory
(both under the configurable root).
"""
import shlex

from halizard import paths


class HostInfoError(Exception):
    """A host file is missing or unreadable."""


def read_pool_conf(root=None):
    """Return ("master", None) or ("slave", master_address)."""
    path = paths.under(root, paths.POOL_CONF)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read().strip()
    except OSError as exc:
        raise HostInfoError("cannot read %s: %s" % (path, exc.strerror)) from None
    if text == "master":
        return "master", None
    if text.startswith("slave:") and text[len("slave:"):].strip():
        return "slave", text[len("slave:"):].strip()
    raise HostInfoError("%s: unexpected content %r" % (path, text[:60]))


def read_inventory(root=None):
    """The KEY='value' pairs of xensource-inventory as a dict."""
    path = paths.under(root, paths.INVENTORY)
    values = {}
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise HostInfoError("cannot read %s: %s" % (path, exc.strerror)) from None
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw)
        except ValueError:
            parts = [raw.strip("'\"")]
        values[key.strip()] = parts[0] if parts else ""
    return values


def local_host_uuid(root=None):
    """INSTALLATION_UUID of this host."""
    uuid = read_inventory(root).get("INSTALLATION_UUID")
    if not uuid:
        raise HostInfoError("no INSTALLATION_UUID in %s" % paths.under(root, paths.INVENTORY))
    return uuid
