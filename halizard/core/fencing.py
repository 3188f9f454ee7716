"""Fencing gates, proof of death, and what to release after it.

The one rule: a failed host's VMs are restarted elsewhere only when the host
is proven dead, by

* FENCED   - a fence agent reported verified success (unknown, timed out or
  garbage is failure), or
* DEADLINE - this side holds a strict majority (so the other side cannot),
  the host has been unreachable by network (not just its xapi) since
  `first_failure_at`, and the self-fence wait (timing.recovery_wait) has
  passed: an isolated host has stopped its own VMs by then.

How the parameters map onto that rule:

* FENCE_ENABLED=0: no agent is called; DEADLINE is the only proof (the old
  product could then never recover a master).
* FENCE_METHOD=POOL: powers nothing off, so it is fencing by DEADLINE behind
  the same gates (quorum, FENCE_MIN_HOSTS).
* A real agent (XVM, ILO, IRMC, custom): FENCED. If the agent fails or the
  gates refuse it, FENCE_HA_ONFAIL=1 falls back to DEADLINE; FENCE_HA_ONFAIL=0
  leaves the VMs alone and alerts. FENCE_HA_ONFAIL never restarts a VM of a
  host that is not proven dead.
"""


from dataclasses import dataclass
from typing import AbstractSet, Iterable, Optional, Sequence, Tuple

from halizard.core import actions as A
from halizard.core import health, timing
from halizard.core.health import ProbeResult
from halizard.core.model import HEALTH_FAILED, PoolView
from halizard.core.policy import Policy
from halizard.core.quorum import QuorumResult
from halizard.core.strenum import StrEnum



class Proof(StrEnum):
    """How a failed host's death was proven (its value is stored: the recovery entry, the takeover state)."""

    FENCED = "fenced"
    DEADLINE = "self-fence deadline"


PROOF_FENCED, PROOF_DEADLINE = Proof.FENCED, Proof.DEADLINE  # the names callers use



class PowerState(StrEnum):
    """What a fence agent's FenceResult says of the power (halizard/fence/base.py)."""

    OFF = "off"            # verified powered off
    ON = "on"              # verified powered on (after start, or status)
    RESET = "reset"        # verified power cycled: the old instance is gone
    UNKNOWN = "unknown"    # no proof either way (timeouts, garbage, unreachable device)
    FAILED = "failed"      # the device/script said the action failed
    UNPROVEN = "unproven"  # POOL: nothing was done to the power at all


class FenceOutcome(StrEnum):
    """What a fence achieved, as the core counts it (its value is stored: fence-outcomes, takeover)."""

    VERIFIED = "verified"
    FAILED = "failed"
    UNKNOWN = "unknown"


FENCE_VERIFIED, FENCE_FAILED, FENCE_UNKNOWN = FenceOutcome.VERIFIED, FenceOutcome.FAILED, FenceOutcome.UNKNOWN


@dataclass(frozen=True)
class Gate:
    """Whether fencing may go ahead, and why."""

    allowed: bool
    why: str


@dataclass(frozen=True)
class DeadlineProof:
    """State of the self-fence deadline proof for one host."""

    proven: bool
    possible: bool
    wait_until: Optional[float]
    why: str


@dataclass(frozen=True)
class FailureDecision:
    """What to do about one failed host now; proof is set once death is proven."""

    proof: Optional[Proof]
    actions: Tuple[A.Action, ...]
    why: str


def outcome_of(verified: bool, state: str) -> FenceOutcome:
    """Map an agent's FenceResult (verified, state) to the core's fence outcome.

    Only a verified `off` or `reset` proves death; a verified `on` (a start)
    says nothing about the old instance; `unknown` stays unknown; the rest failed.
    """
    if verified and state in (PowerState.OFF, PowerState.RESET):
        return FENCE_VERIFIED
    if state == PowerState.UNKNOWN:
        return FENCE_UNKNOWN
    return FENCE_FAILED


def uses_agent(policy: Policy) -> bool:
    """True when fencing calls an agent that can verify a power-off."""
    return policy.fences_by_agent


def gate(policy: Policy, quorum: QuorumResult, pool_host_count: int) -> Gate:
    """FENCE_ENABLED, FENCE_QUORUM_REQUIRED and FENCE_MIN_HOSTS.

    FENCE_MIN_HOSTS counts the hosts in the pool, the failed one included (the
    guide's default 2 is "optimized for a 2-node pool", so a 2-host pool may fence).
    """
    if not policy.FENCE_ENABLED:
        return Gate(False, "fencing is disabled (FENCE_ENABLED=0)")
    if policy.FENCE_QUORUM_REQUIRED and not quorum.has_quorum:
        return Gate(False, "no quorum (%s) and FENCE_QUORUM_REQUIRED=1" % quorum.why)
    if pool_host_count < policy.FENCE_MIN_HOSTS:
        return Gate(False, "the pool has %d hosts, fewer than FENCE_MIN_HOSTS=%d"
                    % (pool_host_count, policy.FENCE_MIN_HOSTS))
    return Gate(True, "fencing allowed (%s)" % quorum.why)


def deadline_proof(probe: Optional[ProbeResult], quorum: QuorumResult, policy: Policy,
                   now: float) -> DeadlineProof:
    """Is the host proven dead by the self-fence deadline, or when will it be?"""
    verdict = health.classify(probe, policy)
    if verdict.state != health.FAILED:
        return DeadlineProof(False, False, None, "the host is not failed (%s)" % verdict.why)
    if not verdict.isolated:
        return DeadlineProof(False, False, None,
                             "the host is still reachable by network, so it has not lost quorum "
                             "and will not self-fence")
    if not quorum.strict_majority:
        return DeadlineProof(False, False, None,
                             "this side has no strict majority (%s), so the other side may hold "
                             "quorum and keep its VMs" % quorum.why)
    assert probe is not None
    if probe.first_failure_at is None:
        return DeadlineProof(False, False, None, "the start of the failure is unknown")
    until = probe.first_failure_at + timing.recovery_wait(policy)
    if now >= until:
        return DeadlineProof(True, True, until,
                             "unreachable for %gs, longer than the self-fence wait of %gs"
                             % (now - probe.first_failure_at, timing.recovery_wait(policy)))
    return DeadlineProof(False, True, until,
                         "unreachable for %gs; its self-fence completes before %gs have passed"
                         % (now - probe.first_failure_at, timing.recovery_wait(policy)))


def release_plan(pool: PoolView, host_uuid: str, policy: Policy, proof: str) -> Tuple[A.Action, ...]:
    """Actions that release what a proven-dead host held, then restart its VMs.

    Order: mark failed, reset each resident VM's power state, clear the VDI
    attach markers `host_<ref>`, optionally forget the host, restart its VMs.
    """
    if proof not in (PROOF_FENCED, PROOF_DEADLINE):
        raise ValueError("release_plan needs a proof of death, got %r" % (proof,))
    host = pool.host(host_uuid)
    if host is None:
        raise ValueError("unknown host %s" % host_uuid)
    name = host.name_label or host.uuid
    out = [A.SetHostHealth(why="%s is dead (%s)" % (name, proof), host_uuid=host_uuid, value=HEALTH_FAILED)]
    for vm in pool.vms_resident_on(host_uuid):
        if vm.is_control_domain:
            continue
        out.append(A.ResetVmPowerState(
            why="%s ran on %s, which is dead (%s)" % (vm.name_label or vm.uuid, name, proof), vm_uuid=vm.uuid))
    if host.ref:
        for vdi in pool.vdis:
            for key in vdi.markers_for(host.ref):
                out.append(A.ClearVdiMarker(
                    why="%s is dead, so its attach marker must not block a start elsewhere" % name,
                    vdi_uuid=vdi.uuid, key=key))
    if policy.FENCE_HOST_FORGET:
        out.append(A.ForgetHost(why="FENCE_HOST_FORGET=1 and %s is dead" % name, host_uuid=host_uuid))
    out.append(A.RestartVmsOf(why="the VMs of %s may now run elsewhere" % name, host_uuid=host_uuid))
    return tuple(out)


def decide_host_failure(
    pool: PoolView,
    host_uuid: str,
    probe: Optional[ProbeResult],
    quorum: QuorumResult,
    policy: Policy,
    now: float,
    fence_outcome: Optional[str] = None,
) -> FailureDecision:
    """The next step for one failed host (slave failure on the master, or a dead master).

    fence_outcome: None when no agent was called yet for this failure, else
    the verified/failed/unknown result the caller recorded. Call again after
    every step; the answer depends only on the inputs. Where peers may still
    reach the host, pass the decision through unless_still_seen.
    """
    fence_outcome = FenceOutcome.parse(fence_outcome)
    host = pool.host(host_uuid)
    if host is None:
        raise ValueError("unknown host %s" % host_uuid)
    name = host.name_label or host.uuid
    verdict = health.classify(probe, policy)
    if fence_outcome == FENCE_VERIFIED:
        return FailureDecision(PROOF_FENCED, release_plan(pool, host_uuid, policy, PROOF_FENCED),
                               "%s was fenced and the fence verified" % name)
    if verdict.state != health.FAILED:
        return FailureDecision(None, (), "%s is not failed: %s" % (name, verdict.why))
    g = gate(policy, quorum, len(pool.hosts))
    agent = uses_agent(policy)
    if agent and g.allowed and fence_outcome is None:
        return FailureDecision(None, (A.FenceHost(
            why="%s failed (%s) and %s" % (name, verdict.why, g.why),
            host_uuid=host_uuid, fence_action=policy.FENCE_ACTION),), "fence %s" % name)
    if agent:
        problem = (g.why if not g.allowed else "the fence of %s was not verified (%s)" % (name, fence_outcome))
        if not policy.FENCE_HA_ONFAIL:
            return FailureDecision(None, (A.Alert(
                why="no proof that %s is dead and FENCE_HA_ONFAIL=0" % name, function="fence_host",
                text="%s failed and cannot be fenced: %s; its VMs stay where they are" % (name, problem)),),
                "%s; FENCE_HA_ONFAIL=0 leaves its VMs alone" % problem)
        basis = "%s; FENCE_HA_ONFAIL=1 falls back to the self-fence deadline" % problem
    elif policy.FENCE_ENABLED:  # POOL: fencing by deadline, behind the gates
        if not g.allowed:
            return FailureDecision(None, (A.Alert(
                why="POOL fencing of %s is not allowed" % name, function="fence_host",
                text="%s failed and cannot be fenced: %s" % (name, g.why)),), g.why)
        basis = "FENCE_METHOD=POOL proves death by the self-fence deadline"
    else:
        basis = "fencing is disabled, so only the self-fence deadline can prove death"
    dp = deadline_proof(probe, quorum, policy, now)
    if dp.proven:
        return FailureDecision(PROOF_DEADLINE, release_plan(pool, host_uuid, policy, PROOF_DEADLINE),
                               "%s; %s" % (basis, dp.why))
    if dp.possible:
        assert dp.wait_until is not None
        return FailureDecision(None, (A.Wait(why="%s; %s" % (basis, dp.why), until=dp.wait_until),),
                               "%s; waiting" % basis)
    return FailureDecision(None, (A.Alert(
        why="no proof that %s is dead" % name, function="fence_host",
        text="%s failed and its death cannot be proven: %s; its VMs stay where they are" % (name, dp.why)),),
        "%s; %s" % (basis, dp.why))


def unless_still_seen(decision: FailureDecision, pool: PoolView, host_uuid: str,
                      seen_by: Sequence[str]) -> FailureDecision:
    """The decision, except that a self-fence deadline proves nothing while `seen_by` (still_seen_by:
    the peers this side reaches that may still reach the host) is not empty: a partition that is not
    transitive, where the host keeps quorum through them and never self-fences."""
    if decision.proof != PROOF_DEADLINE or not seen_by:
        return decision
    host = pool.host(host_uuid)
    name = (host.name_label or host.uuid) if host is not None else host_uuid
    why = ("%s may still be reached by %s, so it keeps quorum through them and does not self-fence: "
           "the self-fence deadline proves nothing" % (name, ", ".join(sorted(seen_by))))
    return FailureDecision(None, (A.Alert(
        why="no proof that %s is dead" % name, function="fence_host",
        text="%s failed for this host but %s; its VMs stay where they are" % (name, why)),), why)


def still_seen_by(pool: PoolView, host_uuid: str, reached: Iterable[str], self_uuid: str) -> Tuple[str, ...]:
    """The peers this side reaches (`reached`) that may still reach `host_uuid`: every one whose
    published view (HostView.unreached) does not list it, or that published none (unknown is not
    "cannot reach")."""
    out = []
    for uuid in sorted(set(reached) - {host_uuid, self_uuid}):
        peer = pool.host(uuid)
        if peer is None or peer.unreached is None or host_uuid not in peer.unreached:
            out.append(uuid)
    return tuple(out)


def stale_markers(pool: PoolView, vdi_uuids: Iterable[str],
                  proven_dead: AbstractSet[str]) -> Tuple[A.ClearVdiMarker, ...]:
    """Markers that may be cleared before retrying a start that failed on an attached disk.

    Only markers of hosts proven dead (fenced or deadline) are released: a
    marker of a live or merely failed host may guard a disk really in use.
    """
    dead_refs = {}
    for uuid in proven_dead:
        h = pool.host(uuid)
        if h is not None and h.ref:
            dead_refs["host_" + h.ref] = h
    wanted = set(vdi_uuids)
    out = []
    for vdi in pool.vdis:
        if vdi.uuid not in wanted:
            continue
        for key in vdi.sm_config_keys:
            if key in dead_refs:
                h = dead_refs[key]
                out.append(A.ClearVdiMarker(
                    why="%s is proven dead, so its attach marker is stale" % (h.name_label or h.uuid),
                    vdi_uuid=vdi.uuid, key=key))
    return tuple(out)
