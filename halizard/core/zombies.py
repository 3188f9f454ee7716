"""Zombie domains: running here while the database says the VM runs elsewhere.

After a host comes back from a failure its old domains may still run (or a
split healed), while the pool already restarted those VMs on another host.
A local domain is a zombie when the database says the VM is resident on a
different host and no operation is in progress on it (a migration shows as
an operation). Unknown domains and control domains are left alone.
"""

from __future__ import annotations

from typing import Iterable, Tuple

from halizard.core import actions as A
from halizard.core.model import PoolView


def find(pool: PoolView, self_uuid: str, local_domains: Iterable[str]) -> Tuple[A.DestroyDomain, ...]:
    """DestroyDomain for every local domain the database places elsewhere."""
    out = []
    for vm_uuid in sorted(set(local_domains)):
        vm = pool.vm(vm_uuid)
        if vm is None or vm.is_control_domain:
            continue
        if vm.resident_on is None or vm.resident_on == self_uuid:
            continue
        if vm.current_operations:
            continue
        where = pool.host(vm.resident_on)
        out.append(A.DestroyDomain(
            why="%s runs here but the database says it is %s on %s and no operation is in progress"
                % (vm.name_label or vm.uuid, vm.power_state, (where.name_label or where.uuid) if where else "?"),
            vm_uuid=vm_uuid))
    return tuple(out)
