"""Self-fencing: a host cut off from the pool stops its own VMs in time.

Triggers (checked every SELF_FENCE_CHECK_INTERVAL / probe round):
* the management link has been down for MGT_LINK_LOSS_TOLERANCE seconds, or
* this host has no quorum while the side it cannot reach could hold it
  (quorum.other_side_could_win): that side may restart our VMs.

A host with no quorum whose unreachable side could not win either (e.g. a
2-host pool without heuristic addresses) keeps its VMs: stopping them would
turn a single failure into a full outage and nobody could restart them.

Once begun, a self-fence runs to completion: StopLocalVms with a deadline of
SELF_FENCE_STOP_TIMEOUT; if domains remain after it, RebootSelf (once). That
bounded time is what timing.self_fence_deadline promises the other side.
Fail closed: domains that cannot be listed (local_vms=None: `xl list` failed
or hung) count as running, so they end in the reboot at the same deadline;
a self-fence held by the caller (`held`: e.g. the configuration became
unsafe mid-way) never ends, it only goes on.
When the host is whole again (link up, quorum back) and nothing runs, it
restarts its toolstack to rejoin (the old product's recovery step).
"""


from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from halizard.core import actions as A
from halizard.core.policy import Policy
from halizard.core.quorum import QuorumResult


@dataclass(frozen=True)
class SelfFenceDecision:
    """fencing: this host is (still) self-fenced; actions: what to do now."""

    fencing: bool
    actions: Tuple[A.Action, ...]
    why: str


def isolation(now: float, link_down_since: Optional[float], quorum: Optional[QuorumResult],
              policy: Policy) -> Optional[str]:
    """The reason this host counts as isolated, or None."""
    if link_down_since is not None and now - link_down_since >= policy.MGT_LINK_LOSS_TOLERANCE:
        return ("the management link has been down for %gs (MGT_LINK_LOSS_TOLERANCE=%g)"
                % (now - link_down_since, policy.MGT_LINK_LOSS_TOLERANCE))
    if quorum is not None and not quorum.has_quorum and quorum.other_side_could_win:
        return "no quorum (%s) and the hosts out of reach could hold it" % quorum.why
    return None


@dataclass(frozen=True)
class InProgress:
    """A self-fence under way: when StopLocalVms was issued, whether the reboot was already asked
    for, and `held`: why it must go on whatever the measurements say (it then never ends here)."""

    stopping_since: float
    reboot_requested: bool = False
    held: Optional[str] = None

    @classmethod
    def of(cls, stopping_since: Optional[float], reboot_requested: bool = False,
           held: Optional[str] = None) -> "Optional[InProgress]":
        """The self-fence in progress as stored, or None when none is (no stopping_since)."""
        return None if stopping_since is None else cls(stopping_since, reboot_requested, held)


def decide(
    now: float,
    policy: Policy,
    *,
    link_down_since: Optional[float],
    quorum: Optional[QuorumResult],
    local_vms: Optional[Sequence[str]],
    in_progress: Optional[InProgress] = None,
) -> SelfFenceDecision:
    """The self-fence step for this host now.

    in_progress: the self-fence under way (None when not self-fencing); local_vms: guest domains
    really running here (platform layer), None when they could not be listed.
    """
    stopping_since = None if in_progress is None else in_progress.stopping_since
    reboot_requested = in_progress is not None and in_progress.reboot_requested
    held = None if in_progress is None else in_progress.held
    reason = held if held and stopping_since is not None else isolation(now, link_down_since, quorum, policy)
    unknown = local_vms is None
    vms = () if unknown else tuple(sorted(local_vms or ()))
    if stopping_since is not None:
        deadline = stopping_since + policy.SELF_FENCE_STOP_TIMEOUT
        if vms or unknown:
            what = "the local domains cannot be listed" if unknown else "%d domains still run" % len(vms)
            if now >= deadline:
                if reboot_requested:
                    return SelfFenceDecision(True, (), "reboot already requested; waiting for it")
                return SelfFenceDecision(True, (A.RebootSelf(why="%s at the self-fence deadline" % what),),
                                         "self-fence deadline passed: %s" % what)
            return SelfFenceDecision(True, (A.StopLocalVms(
                why="self-fencing continues until every local domain is gone (%s)" % what, vm_uuids=vms,
                deadline=deadline),),
                "self-fencing in progress")
        if reason is not None:
            return SelfFenceDecision(True, (), "self-fenced: nothing runs here; still isolated (%s)" % reason)
        return SelfFenceDecision(False, (A.RestartToolstack(
            why="the host is reachable and has quorum again after a self-fence"),),
            "self-fence over: restart the toolstack to rejoin")
    if reason is None:
        return SelfFenceDecision(False, (), "not isolated")
    return SelfFenceDecision(True, (A.StopLocalVms(
        why=reason + ", so this host stops its VMs before the pool restarts them elsewhere",
        vm_uuids=vms, deadline=now + policy.SELF_FENCE_STOP_TIMEOUT),), "self-fence: " + reason)


def loss_counts(quorum: QuorumResult, is_master: bool) -> bool:
    """Whether this check's quorum loss counts toward the XAPI_COUNT checks that confirm it: only a
    loss that could make this host act (the unreached side could win, or a master reaches nobody:
    lone_host). Why: after a long harmless loss (an exact tie) one slow probe must not find the
    count reached already and stop the VMs at once."""
    if quorum.has_quorum:
        return False
    return quorum.other_side_could_win or (is_master and quorum.votes == 1 and quorum.total > 1)


def lone_host(quorum: QuorumResult, policy: Policy, already_rebooted: bool) -> Tuple[A.Action, ...]:
    """A master that sees no other host: with FENCE_REBOOT_LONE_HOST it reboots once."""
    if quorum.total <= 1 or quorum.votes != 1 or quorum.has_quorum:  # 0: no vote (membership), not alone
        return ()
    if not policy.FENCE_REBOOT_LONE_HOST or already_rebooted:
        return ()
    return (A.RebootSelf(why="this host reaches none of the other %d hosts and FENCE_REBOOT_LONE_HOST=1"
                         % (quorum.total - 1)),)
