"""Zombie domains: present here while the database says the VM runs elsewhere.

After a host comes back from a failure it may still hold a domain of a VM the
pool already restarted on another host: a healed split, or the paused remnant
of an operation cut off on this host (a live migration's source, a start that
a toolstack restart interrupted). Running or paused, it holds the VM's disks
and must go. A local domain is a zombie when the database says the VM is
resident on a different host and no operation is in progress on it (a
migration shows as an operation). Unknown domains and control domains are
left alone.
"""


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
            why="%s has a domain here but the database says it is %s on %s and no operation is in progress"
                % (vm.name_label or vm.uuid, vm.power_state, (where.name_label or where.uuid) if where else "?"),
            vm_uuid=vm_uuid))
    return tuple(out)
