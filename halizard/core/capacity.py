"""What-if planning: where the protected VMs would go if some hosts failed, and the pool's tolerance.

Why: "would we survive another failure tomorrow?" must be answered by the
planner the master really uses (vm_plan.plan), not by a second model. A
failed host's running VMs are shown Halted and stamped home here (as the
master sees them after it fenced and released that host), the failed hosts
leave the usable set, and the plan says who starts where and who does not.

Tolerance (anchor: XenServer's pool.ha_compute_hypothetical_max_host_failures_to_tolerate):
the largest k such that for every set of at most k failed enabled hosts the
plan places every protected VM that needs a start (nothing NO_CAPACITY).
Exact (every subset) while the number of subsets to plan stays within
`exact_limit`; beyond that a sufficient condition is used, so the figure is a
lower bound (`exact` False): with m survivors, a largest protected VM of M
bytes, survivors' free memory F and displaced memory D, most-free-first
placement cannot fail when F >= D + m*M (a VM that fits nowhere leaves
every survivor below M free, so less than m*M unused); the worst case takes
the k hosts with the most protected memory as failed, and the k largest free
memories as lost.
"""

import dataclasses
import itertools
from typing import AbstractSet, Iterable, List, Optional, Tuple

from halizard.core import vm_plan
from halizard.core.model import HALTED, PoolView
from halizard.core.policy import Policy

DEFAULT_EXACT_LIMIT = 512


class UnknownHost(ValueError):
    """A host named in a what-if failure set is not in the pool."""


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """How many arbitrary host failures every protected VM survives; `worst` is a set that breaks it."""

    failures: int
    exact: bool
    fits_now: bool
    worst: Tuple[str, ...] = ()


def resolve_hosts(pool: PoolView, names: Iterable[str]) -> Tuple[str, ...]:
    """Host uuids for name labels or uuids; UnknownHost names the first unknown one."""
    out = []
    for name in names:
        match = [h.uuid for h in pool.hosts if name in (h.uuid, h.name_label)]
        if len(match) != 1:
            raise UnknownHost("%s host %r in this pool" % ("no" if not match else "more than one", name))
        if match[0] not in out:
            out.append(match[0])
    return tuple(out)


def after_failure(pool: PoolView, failed: AbstractSet[str]) -> PoolView:
    """The pool as the master plans it once `failed` are fenced: their VMs Halted, at home, nowhere."""
    vms = tuple(dataclasses.replace(v, power_state=HALTED, resident_on=None,
                                    home_pool=v.home_pool or pool.uuid)
                if v.resident_on in failed else v for v in pool.vms)
    return dataclasses.replace(pool, vms=vms)


def _usable(pool: PoolView, failed: AbstractSet[str], usable: Optional[AbstractSet[str]]) -> set:
    base = set(usable) if usable is not None else set(vm_plan.usable_hosts_from_fields(pool))
    return base - set(failed)


def what_if(pool: PoolView, policy: Policy, failed: AbstractSet[str] = frozenset(), *,
            operator_stopped: AbstractSet[str] = frozenset(),
            usable: Optional[AbstractSet[str]] = None) -> vm_plan.VmPlan:
    """The master's VM plan after `failed` hosts died (pure)."""
    return vm_plan.plan(after_failure(pool, failed), policy, operator_stopped=operator_stopped,
                        usable_hosts=_usable(pool, failed, usable))


def _survives(pool, policy, failed, operator_stopped, usable) -> bool:
    plan = what_if(pool, policy, frozenset(failed), operator_stopped=operator_stopped, usable=usable)
    return not plan.unplaced


def tolerance(pool: PoolView, policy: Policy, *, operator_stopped: AbstractSet[str] = frozenset(),
              usable: Optional[AbstractSet[str]] = None, exact_limit: int = DEFAULT_EXACT_LIMIT) -> Tolerance:
    """The pool's failure tolerance (see the module docstring for exact vs bound)."""
    candidates = sorted(_usable(pool, frozenset(), usable))
    if not _survives(pool, policy, (), operator_stopped, usable):
        return Tolerance(0, True, False)
    best = 0
    for k in range(1, len(candidates)):
        sets = list(itertools.combinations(candidates, k)) if _count(len(candidates), k) <= exact_limit else None
        if sets is None:
            return Tolerance(best + _bound_more(pool, policy, candidates, best, operator_stopped), False, True)
        for failed in sets:
            if not _survives(pool, policy, failed, operator_stopped, usable):
                return Tolerance(best, True, True, tuple(failed))
        best = k
    return Tolerance(best, True, True)


def _count(n: int, k: int) -> int:
    out = 1
    for i in range(k):
        out = out * (n - i) // (i + 1)
    return out


def _bound_more(pool: PoolView, policy: Policy, candidates: List[str], proven: int,
                operator_stopped: AbstractSet[str]) -> int:
    """How many failures beyond `proven` the sufficient condition F >= D + m*M still guarantees."""
    plan = vm_plan.plan(after_failure(pool, set(candidates)), policy, operator_stopped=operator_stopped,
                        usable_hosts=set())
    needing = {s.vm_uuid for s in plan.statuses if s.reason == vm_plan.Reason.NO_CAPACITY}
    sizes = {u: pool.vm(u).memory for u in needing}
    largest = max(sizes.values()) if sizes else 0
    load = {h: 0 for h in candidates}
    halted = 0
    for u, size in sizes.items():
        where = pool.vm(u).resident_on
        if where in load:
            load[where] += size
        else:
            halted += size
    loads = sorted(load.values(), reverse=True)
    frees = sorted((pool.host(h).memory_free for h in candidates), reverse=True)
    extra = 0
    for k in range(proven + 1, len(candidates)):
        survivors = len(candidates) - k
        if sum(frees[k:]) < halted + sum(loads[:k]) + survivors * largest:
            break
        extra = k - proven
    return extra
