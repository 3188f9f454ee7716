"""Small builders for core snapshots, so each test states only what matters."""

from halizard.core.health import ProbeResult
from halizard.core.model import HostView, PoolView, VmView
from halizard.core.policy import Policy

POOL = "pool-uuid"
GIB = 1024 ** 3


def host(uuid, **kw):
    kw.setdefault("name_label", uuid)
    kw.setdefault("ref", "OpaqueRef:" + uuid)
    kw.setdefault("health_field", "healthy")
    kw.setdefault("memory_free", 16 * GIB)
    return HostView(uuid=uuid, **kw)


def vm(uuid, **kw):
    kw.setdefault("name_label", uuid)
    kw.setdefault("home_pool", POOL)
    kw.setdefault("memory", 1 * GIB)
    return VmView(uuid=uuid, **kw)


def pool(hosts=None, vms=(), master="h1", **kw):
    if hosts is None:
        hosts = [host("h1", is_master=True, health_field="master"), host("h2"), host("h3")]
    kw.setdefault("ha_field", "true")
    return PoolView(uuid=POOL, master_uuid=master, hosts=tuple(hosts), vms=tuple(vms), **kw)


def policy(**kw):
    return Policy.from_mapping(kw)


def up():
    return ProbeResult(tries=1, xapi_ok=True, network_ok=True)


def down(at=0.0, tries=2, network_ok=False):
    return ProbeResult(tries=tries, xapi_ok=False, network_ok=network_ok, first_failure_at=at)
