"""Master failure: the takeover slave's sequence as a pure state machine.

    IDLE --(master failed, this host is the takeover slave, quorum)-->
      [TIE_WAIT] --> FENCING --verified--> TRANSITION
                            --failed, FENCE_HA_ONFAIL=1--> AWAIT_DEADLINE --> TRANSITION
                            --failed, no other proof--> SUSPENDED (suspend HA, reboot once)
      (FENCE_ENABLED=0 or POOL) --> AWAIT_DEADLINE --proven--> TRANSITION
    TRANSITION (pool.emergency_transition_to_master) --> AWAIT_MASTER (until xapi
    answers as master) --> RECOVER_SLAVES (pool.recover_slaves, RECOVER_ATTEMPTS tries)
    --> RELEASE (old master's VMs and disks) --> RESTART (SLAVE_HA) --> DONE

Before TRANSITION the sequence aborts to IDLE when the master answers again,
and the job's last check (roles.may_transition) can abort it to IDLE right
before the transition is issued; from TRANSITION on there is no way back.
RESTART starts VMs only after a fresh check of quorum and of this host's
self-fence (the job reports REFUSED otherwise, and the step waits). The job calls `step` after every
executed action with its `outcome` ("ok"/"failed", or a fence outcome for
FENCING) and after every probe round with outcome None; each step says why.
Quorum won only by the heuristic tie-break makes this side wait TIE_FENCE_DELAY
before fencing, so the master's own fence of this host lands first.
"""


from dataclasses import dataclass, replace
from typing import FrozenSet, Optional, Tuple

from halizard.core import actions as A
from halizard.core import fencing, health, roles
from halizard.core.health import ProbeResult
from halizard.core.model import PoolView
from halizard.core.policy import Policy
from halizard.core.quorum import QuorumResult
from halizard.core.strenum import StrEnum



class Phase(StrEnum):
    """Where the sequence is (its value is stored in the takeover state file and shown by ha-cfg)."""

    IDLE = "idle"
    TIE_WAIT = "tie-wait"
    FENCING = "fencing"
    AWAIT_DEADLINE = "await-deadline"
    TRANSITION = "transition"
    AWAIT_MASTER = "await-master"
    RECOVER_SLAVES = "recover-slaves"
    RELEASE = "release"
    RESTART = "restart"
    DONE = "done"
    SUSPENDED = "suspended"
    FAILED = "failed"


class Result(StrEnum):
    """What an executed action gave the next step (FENCING takes a fencing.FenceOutcome instead)."""

    OK = "ok"
    FAILED = "failed"
    ABORTED = "aborted"    # the last check before the transition failed: it was never issued
    REFUSED = "refused"    # VM starts refused (self-fencing, no quorum): the restart waits


# the names callers use
IDLE, TIE_WAIT, FENCING, AWAIT_DEADLINE = Phase.IDLE, Phase.TIE_WAIT, Phase.FENCING, Phase.AWAIT_DEADLINE
TRANSITION, AWAIT_MASTER, RECOVER_SLAVES = Phase.TRANSITION, Phase.AWAIT_MASTER, Phase.RECOVER_SLAVES
RELEASE, RESTART, DONE, SUSPENDED, FAILED = Phase.RELEASE, Phase.RESTART, Phase.DONE, Phase.SUSPENDED, Phase.FAILED
OK, NOT_OK, ABORTED, REFUSED = Result.OK, Result.FAILED, Result.ABORTED, Result.REFUSED

RECOVER_ATTEMPTS = 3
MASTER_WAIT = 120.0  # seconds for xapi to come back as master after the transition (fuse ~10 s)


def tie_fence_delay(policy: Policy) -> float:
    """How long the non-master half of a tie waits before fencing the master."""
    return policy.XE_TIMEOUT + policy.MONITOR_DELAY


@dataclass(frozen=True)
class TakeoverState:
    """Where the sequence is. Persist it between runs (it is plain values)."""

    phase: Phase = Phase.IDLE
    master_uuid: Optional[str] = None
    fence_outcome: Optional[fencing.FenceOutcome] = None
    proof: Optional[fencing.Proof] = None
    recover_attempts: int = 0
    wait_until: Optional[float] = None


@dataclass(frozen=True)
class TakeoverInputs:
    """What the slave knows now. pool: the last known view (its master_uuid is the old master).

    reachable: the peers this round reached; with it the takeover slave is
    roles.takeover_candidate, without it (no round at hand) the stored autopromote.
    """

    self_uuid: str
    pool: PoolView
    master_probe: Optional[ProbeResult]
    quorum: QuorumResult
    autopromote: Optional[str]
    suspended: bool = False
    reachable: Optional[FrozenSet[str]] = None
    ranked_last: Tuple[str, ...] = ()  # core.membership.takeover_order of this host's membership copy
    voteless: FrozenSet[str] = frozenset()  # peers that answered the peer query that they have no vote


def _takeover_slave(inp: TakeoverInputs) -> Optional[str]:
    if inp.reachable is None:
        return inp.autopromote
    return roles.takeover_candidate(inp.pool, inp.self_uuid, inp.reachable, inp.ranked_last, inp.voteless)


@dataclass(frozen=True)
class Step:
    """The new state, the actions to execute in order, and why."""

    state: TakeoverState
    actions: Tuple[A.Action, ...]
    why: str


def step(state: TakeoverState, inp: TakeoverInputs, policy: Policy, now: float,
         outcome: Optional[str] = None) -> Step:
    """One transition of the master-failure sequence (one handler per phase, _HANDLERS)."""
    master = state.master_uuid or inp.pool.master_uuid
    verdict = health.classify(inp.master_probe, policy)
    early = state.phase in (IDLE, TIE_WAIT, FENCING, AWAIT_DEADLINE)
    if early and state.phase != IDLE and verdict.state == health.HEALTHY:
        return Step(TakeoverState(), (), "the master answers again, so the takeover stops")
    if state.phase == IDLE:
        return _from_idle(inp, policy, now, master, verdict)
    if state.phase in (DONE, SUSPENDED, FAILED):
        return Step(state, (), "the takeover sequence ended (%s)" % state.phase)
    handler = _HANDLERS.get(state.phase)
    if handler is None:
        raise ValueError("unknown takeover phase %r" % (state.phase,))
    return handler(state, inp, policy, now, master, verdict, outcome)


def _in_tie_wait(state, inp, policy, now, master, verdict, _outcome):
    if state.wait_until is not None and now < state.wait_until:
        return Step(state, (A.Wait(why="tie-break quorum: let the master fence first", until=state.wait_until),),
                    "waiting out the tie-break fence delay")
    perm = roles.may_take_over(inp.self_uuid, _takeover_slave(inp), verdict, inp.suspended, policy)
    if not perm.allowed:
        return Step(TakeoverState(), (), perm.why)
    if not inp.quorum.has_quorum:
        return Step(TakeoverState(), (), "quorum lost during the tie-break fence delay: %s" % inp.quorum.why)
    return _fence(inp, policy, master, "the tie-break fence delay is over")


def _in_fencing(state, inp, policy, now, master, _verdict, outcome):
    if outcome is None:
        return Step(state, (), "waiting for the fence result")
    return _after_fence(state, inp, policy, now, master, outcome)


def _in_await_deadline(state, inp, policy, now, master, _verdict, _outcome):
    return _deadline(state, inp, policy, now, master)


def _in_transition(state, _inp, _policy, now, _master, _verdict, outcome):
    if outcome is None:
        return Step(state, (), "waiting for the emergency transition")
    if outcome == ABORTED:
        return Step(TakeoverState(), (), "the last check before the transition stopped the takeover; "
                                        "the next round decides again")
    if outcome != OK:
        return _fail(state, "pool.emergency_transition_to_master failed")
    return Step(replace(state, phase=AWAIT_MASTER),
                (A.WaitUntilMaster(why="xapi restarts as master after the transition",
                                   deadline=now + MASTER_WAIT),),
                "emergency transition started; waiting for xapi to answer as master")


def _in_await_master(state, _inp, _policy, _now, _master, _verdict, outcome):
    if outcome is None:
        return Step(state, (), "waiting for xapi to answer as master")
    if outcome != OK:
        return _fail(state, "xapi did not answer as master within %gs" % MASTER_WAIT)
    return Step(replace(state, phase=RECOVER_SLAVES, recover_attempts=1),
                (A.RecoverSlaves(why="point the other slaves at the new master", attempt=1),),
                "this host is master now; recovering the slaves")


def _in_recover_slaves(state, inp, policy, _now, master, _verdict, outcome):
    if outcome is None:
        return Step(state, (), "waiting for pool.recover_slaves")
    if outcome != OK and state.recover_attempts < RECOVER_ATTEMPTS:
        n = state.recover_attempts + 1
        return Step(replace(state, recover_attempts=n),
                    (A.RecoverSlaves(why="pool.recover_slaves failed; trying again", attempt=n),),
                    "retrying pool.recover_slaves (%d of %d)" % (n, RECOVER_ATTEMPTS))
    pre = ()
    if outcome != OK:
        pre = (A.Alert(why="pool.recover_slaves kept failing", function="promote_slave",
                       text="pool.recover_slaves failed %d times; some slaves may still point at the "
                            "old master" % state.recover_attempts),)
    return _release(state, inp, policy, master, pre)


def _in_release(state, inp, policy, _now, master, _verdict, outcome):
    if outcome is None:
        return Step(state, (), "waiting for the release of the old master's VMs and disks")
    if outcome != OK:
        return _release(state, inp, policy, master, (), retry=True)
    if not policy.SLAVE_HA:
        return Step(replace(state, phase=DONE), (), "released; SLAVE_HA=0 leaves the VMs halted")
    return Step(replace(state, phase=RESTART),
                (A.RestartVmsOf(why="SLAVE_HA=1: restart the old master's protected VMs", host_uuid=master),),
                "released; restarting the old master's VMs")


def _in_restart(state, _inp, _policy, _now, _master, _verdict, outcome):
    if outcome is None:
        return Step(state, (), "waiting for the VM restarts")
    if outcome == REFUSED:
        return Step(state, (), "VM starts refused for now (self-fencing or no quorum); the next cycle "
                               "checks again")
    return Step(replace(state, phase=DONE), (), "takeover complete")


_HANDLERS = {TIE_WAIT: _in_tie_wait, FENCING: _in_fencing, AWAIT_DEADLINE: _in_await_deadline,
            TRANSITION: _in_transition, AWAIT_MASTER: _in_await_master, RECOVER_SLAVES: _in_recover_slaves,
            RELEASE: _in_release, RESTART: _in_restart}


def _from_idle(inp: TakeoverInputs, policy: Policy, now: float, master: str,
               verdict: health.HealthVerdict) -> Step:
    perm = roles.may_take_over(inp.self_uuid, _takeover_slave(inp), verdict, inp.suspended, policy)
    if not perm.allowed:
        return Step(TakeoverState(), (), perm.why)
    if policy.FENCE_QUORUM_REQUIRED and not inp.quorum.has_quorum:
        return Step(TakeoverState(), (), "no takeover without quorum: %s" % inp.quorum.why)
    if fencing.uses_agent(policy) and fencing.gate(policy, inp.quorum, len(inp.pool.hosts)).allowed:
        if inp.quorum.by_tiebreak:
            until = now + tie_fence_delay(policy)
            st = TakeoverState(phase=TIE_WAIT, master_uuid=master, wait_until=until)
            return Step(st, (A.Wait(why="quorum only by the heuristic tie-break: let the master fence first",
                                    until=until),), perm.why + "; tie-break fence delay")
        return _fence(inp, policy, master, perm.why)
    return _deadline(TakeoverState(phase=AWAIT_DEADLINE, master_uuid=master), inp, policy, now, master)


def _fence(inp: TakeoverInputs, policy: Policy, master: str, why: str) -> Step:
    st = TakeoverState(phase=FENCING, master_uuid=master)
    # The old master is always stopped, whatever FENCE_ACTION says: it must not come back as master.
    return Step(st, (A.FenceHost(why=why + "; fence the old master first", host_uuid=master,
                                 fence_action="stop"),), "fencing the master")


def _after_fence(state: TakeoverState, inp: TakeoverInputs, policy: Policy, now: float, master: str,
                 outcome: str) -> Step:
    outcome = fencing.FenceOutcome.parse(outcome)
    if outcome == fencing.FENCE_VERIFIED:
        return _transition(replace(state, fence_outcome=outcome), fencing.PROOF_FENCED, "the master's fence verified")
    return _deadline(replace(state, phase=AWAIT_DEADLINE, fence_outcome=outcome), inp, policy, now, master)


def _deadline(state: TakeoverState, inp: TakeoverInputs, policy: Policy, now: float, master: str) -> Step:
    d = fencing.decide_host_failure(inp.pool, master, inp.master_probe, inp.quorum, policy, now,
                                    state.fence_outcome)
    if d.proof is not None:
        return _transition(state, d.proof, d.why)
    if any(isinstance(a, A.FenceHost) for a in d.actions):
        return _fence(inp, policy, master, d.why)
    waits = [a for a in d.actions if isinstance(a, A.Wait)]
    if waits:
        return Step(replace(state, phase=AWAIT_DEADLINE, wait_until=waits[0].until), tuple(waits), d.why)
    alerts = tuple(a for a in d.actions if isinstance(a, A.Alert))
    if state.fence_outcome in (fencing.FENCE_FAILED, fencing.FENCE_UNKNOWN):
        acts = alerts + (
            A.SuspendSelf(why="the takeover slave could not fence the master and has no other proof"),
            A.RebootSelf(why="a takeover slave that cannot fence reboots once, suspended"),
        )
        return Step(replace(state, phase=SUSPENDED), acts, "cannot fence the master: " + d.why)
    return Step(TakeoverState(), alerts, "no takeover: " + d.why)


def _transition(state: TakeoverState, proof: str, why: str) -> Step:
    st = replace(state, phase=TRANSITION, proof=proof, wait_until=None)
    return Step(st, (A.EmergencyTransition(why="the old master is dead (%s): %s" % (proof, why)),),
                "taking over as master")


def _release(state: TakeoverState, inp: TakeoverInputs, policy: Policy, master: str,
             pre: Tuple[A.Action, ...], retry: bool = False) -> Step:
    assert state.proof is not None
    plan = tuple(a for a in fencing.release_plan(inp.pool, master, policy, state.proof)
                 if not isinstance(a, A.RestartVmsOf))
    why = "releasing the old master's VMs and disks" + (" again" if retry else "")
    return Step(replace(state, phase=RELEASE), pre + plan, why)


def _fail(state: TakeoverState, text: str) -> Step:
    return Step(replace(state, phase=FAILED),
                (A.Alert(why=text, function="promote_slave", text="takeover of the pool failed: " + text),),
                text)


def state_to_plain(state: TakeoverState) -> dict:
    """JSON-able form, for the state file (the enums' words)."""
    outcome, proof = fencing.FenceOutcome.parse(state.fence_outcome), fencing.Proof.parse(state.proof)
    return {"phase": Phase(state.phase).value, "master_uuid": state.master_uuid,
            "fence_outcome": outcome and outcome.value, "proof": proof and proof.value,
            "recover_attempts": state.recover_attempts, "wait_until": state.wait_until}


def state_from_plain(data: object) -> TakeoverState:
    """Inverse of state_to_plain; raises ValueError for a malformed record."""
    if not isinstance(data, dict):
        raise ValueError("not a takeover state: %r" % (data,))
    attempts = data.get("recover_attempts", 0)
    wait = data.get("wait_until")
    try:
        if data.get("phase") is None or not isinstance(attempts, int) or (
                wait is not None and not isinstance(wait, (int, float))):
            raise ValueError("a phase, whole attempts and a numeric wait")
        phase = Phase.parse(data["phase"])
        outcome = fencing.FenceOutcome.parse(data.get("fence_outcome"))
        proof = fencing.Proof.parse(data.get("proof"))
    except (ValueError, TypeError):
        raise ValueError("not a takeover state: %r" % (data,)) from None
    master = data.get("master_uuid")
    return TakeoverState(phase=phase, master_uuid=master if isinstance(master, str) else None,
                         fence_outcome=outcome, proof=proof, recover_attempts=attempts,
                         wait_until=float(wait) if wait is not None else None)
