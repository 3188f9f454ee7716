"""Per-host root directories: the files a real dom0 has, for one simulated host.

Why: ha-lizard and ha-cfg read the host's role, master address and own UUID
from files (pool.conf, xensource-inventory) under a configurable root; each
simulated host gets its own root so `ha-lizard --root R` acts as that host.
`etc/ha-lizard/sim-host.json` marks the root as simulated (selects the
simulated platform), names the host (`name_label`, for `$HOSTNAME`) and says
how to reach the simulator. No file of a root holds the pool password: the
host's tools reach its xapi through `var/lib/xcp/xapi` (halizard.sim.local_socket).
`etc/xensource/ptoken` holds the pool secret (random per pool, the same on
every host, as xapi keeps it), from which the peer query derives its key.
"""
import json
import os
import uuid as uuidlib

from halizard import hostinfo, paths
from halizard.atomicfile import write_atomic

INVENTORY_TEMPLATE = (
    "PRODUCT_BRAND='XCP-ng'\n"
    "PRODUCT_NAME='xenenterprise'\n"
    "PRODUCT_VERSION='8.2.1'\n"
    "PLATFORM_NAME='XCP'\n"
    "PLATFORM_VERSION='3.2.1'\n"
    "BUILD_NUMBER='release/yangtze/master/58'\n"
    "INSTALLATION_DATE='2026-01-01 00:00:00.000000'\n"
    "PRIMARY_DISK='/dev/disk/by-id/sim-disk-0'\n"
    "BACKUP_PARTITION='/dev/disk/by-id/sim-disk-0-part2'\n"
    "INSTALLATION_UUID='{host_uuid}'\n"
    "CONTROL_DOMAIN_UUID='{dom0_uuid}'\n"
    "DOM0_MEM='4096'\n"
    "DOM0_VCPUS='4'\n"
    "MANAGEMENT_INTERFACE='xenbr0'\n"
    "MANAGEMENT_ADDRESS_TYPE='IPv4'\n"
    "CURRENT_INTERFACES='xenbr0'\n"
)


def atomic_write(path, text, mode=0o644):
    """Write `text` to `path` (its directory created) so readers see the old or the new file, never half."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    write_atomic(path, text, mode)


def pool_conf_text(master_address=None):
    """`master`, or `slave:<master address>` when a master address is given."""
    return "master\n" if master_address is None else "slave:%s\n" % master_address


def write_pool_conf(root, master_address=None):
    """Rewrite the host's pool.conf (None = this host is master)."""
    atomic_write(paths.under(root, paths.POOL_CONF), pool_conf_text(master_address))


def write_host_root(root, host_uuid, address, master_address, control_url, probe_port, dom0_uuid=None):
    """Create every directory and file of one simulated host's root.

    `master_address` None means this host is the master. pool.conf and the
    inventory are written only when missing: SimPool owns them once it runs
    (it rewrites pool.conf on emergency transition / recover_slaves).
    """
    for directory in (paths.CONF_DIR, paths.STATE_DIR, paths.FENCE_DIR, "/etc/xensource"):
        os.makedirs(paths.under(root, directory), exist_ok=True)
    if not os.path.exists(paths.under(root, paths.POOL_CONF)):
        write_pool_conf(root, master_address)
    if not os.path.exists(paths.under(root, paths.INVENTORY)):
        dom0_uuid = dom0_uuid or str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "sim-dom0:" + host_uuid))
        atomic_write(
            paths.under(root, paths.INVENTORY),
            INVENTORY_TEMPLATE.format(host_uuid=host_uuid, dom0_uuid=dom0_uuid),
        )
    write_sim_marker(root, host_uuid, address, control_url, probe_port)
    return root


def write_peer_files(root, peer_port, secret):
    """What the peer query needs: `peer_port` in sim-host.json (the UDP port this pool's hosts answer
    on) and etc/xensource/ptoken, the pool secret, the same text on every host of the pool (as xapi
    keeps it), readable by root only; the query's key derives from it (halizard.peers.wire)."""
    update_sim_marker(root, peer_port=peer_port)
    atomic_write(paths.under(root, paths.POOL_SECRET), secret + "\n", mode=0o600)


def write_sim_marker(root, host_uuid, address, control_url, probe_port):
    """etc/ha-lizard/sim-host.json: marks the root as simulated, says how to reach the simulator.

    Keys written earlier by SimPool (name_label) are kept.
    """
    update_sim_marker(root, host_uuid=host_uuid, address=address, control_url=control_url,
                      probe_port=probe_port)


def update_sim_marker(root, **fields):
    """Set some keys of sim-host.json, keeping the others (SimPool and the daemon each know some)."""
    marker = read_sim_host(root) or {}
    marker.update(fields)
    atomic_write(paths.under(root, paths.SIM_HOST_FILE), json.dumps(marker, indent=2) + "\n")


def read_sim_host(root):
    """The sim-host.json marker of a root, or None when the root is not simulated (halizard.hostinfo reads it)."""
    return hostinfo.sim_marker(root)
