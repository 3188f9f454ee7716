"""Every system path the product touches, prefixed by one configurable root.

Why: tests and simulated hosts run many "hosts" on one machine, each with
its own root directory. `--root` (or HALIZARD_ROOT) selects it; the default
is the real `/`.
"""
import os

POOL_CONF = "/etc/xensource/pool.conf"
POOL_SECRET = "/etc/xensource/ptoken"  # xapi's pool secret: the peer query's key derives from it
INVENTORY = "/etc/xensource-inventory"
CONF_DIR = "/etc/ha-lizard"
OVERRIDE_FILE = "/etc/ha-lizard/ha-lizard.conf"
FENCE_DIR = "/etc/ha-lizard/fence"
SIM_HOST_FILE = "/etc/ha-lizard/sim-host.json"
STATE_DIR = "/var/lib/ha-lizard"
RUN_DIR = "/run/ha-lizard"


def resolve_root(root=None):
    """The root in force: the explicit argument, else HALIZARD_ROOT, else '/'."""
    chosen = root or os.environ.get("HALIZARD_ROOT") or "/"
    return os.path.abspath(chosen)


def under(root, path):
    """`path` (absolute, as on a real dom0) placed under `root`."""
    return os.path.join(resolve_root(root), path.lstrip("/"))
