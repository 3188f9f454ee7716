"""What a dom0 says about itself in its files: role, master address, own UUID, name, simulated or not.

Read-only helpers over /etc/xensource/pool.conf, /etc/xensource-inventory
and the simulator's marker /etc/ha-lizard/sim-host.json (all under the
configurable root). This is the one reader of that marker: the platform
(halizard.platform.get_platform) and the configuration ($HOSTNAME) ask here
whether a root is a simulated host, never parse the file themselves.
"""
import json
import os
import shlex
import socket

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


def sim_marker_path(root=None):
    """Where the simulator marks a root as a simulated host."""
    return paths.under(root, paths.SIM_HOST_FILE)


def is_simulated(root=None):
    """True when `root` is a simulated host's root (its marker exists); a real dom0 has none."""
    return os.path.exists(sim_marker_path(root))


def sim_marker(root=None):
    """The marker of a simulated host as a dict, or None when `root` is not simulated.

    A marker that exists but is unreadable or not a JSON object raises HostInfoError.
    """
    path = sim_marker_path(root)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise HostInfoError("%s: unreadable: %s" % (path, type(exc).__name__)) from None
    if not isinstance(data, dict):
        raise HostInfoError("%s: not a JSON object" % path)
    return data


def local_hostname(root=None):
    """This host's name for `$HOSTNAME`: a simulated host's own name, else the kernel's."""
    try:
        data = sim_marker(root)
    except HostInfoError:
        data = None
    if data is None:
        return socket.gethostname()
    # The simulator writes the host's name_label into the marker; older markers lack it, but
    # their roots live in DIR/hosts/<name_label>, so the directory is the host's name.
    name = data.get("hostname") or data.get("name_label")
    return str(name) if name else os.path.basename(paths.resolve_root(root).rstrip("/"))
