"""One fence, end to end: run the agent, never crash, and distrust a contradicted "off".

Why: a BMC or script can say "off" while the host still answers (wrong map
line, wrong outlet, stale BMC state). Restarting VMs on that word would run
them twice. `fence_host` runs the agent within the deadline, turns any
unexpected exception into an unverified result, and when the agent claims
`off` checks once more whether the host answers, by network or by xapi
(halizard.probes.still_alive): if it does, or the check itself fails (maybe
alive), the fence is counted as failed.

A `reset` with a cross-check is carried out as `stop`, the check, then
`start`: a host that was reset answers again at once, so only between the
off and on steps can a wrong map line (which power-cycled another server) be
told from a real fence. The `start` still runs when the check fails, so the
server that was switched off gets its power back as a reset would have left it.
"""
import time

from loguru import logger

from halizard.fence.base import FAILED, OFF, ON, RESET, FenceConfigError, FenceResult, check_action
from halizard.probes.deadline import remaining

log = logger.bind(function="fence_host")
CONFIRM_SECONDS = 3.0


def _run(agent, host_uuid, action, deadline):
    """The agent's own result for `action`; an unverified one for a crash, a config error or garbage."""
    try:
        result = agent.fence(host_uuid, action, deadline)
    except FenceConfigError as exc:
        result = FenceResult.unproven(FAILED, "fence of %s impossible: %s" % (host_uuid, exc))
    except Exception as exc:  # noqa: BLE001 - a broken agent must never end the cycle
        result = FenceResult.unproven(FAILED, "fence agent %s crashed: %s" % (agent, type(exc).__name__))
    if not isinstance(result, FenceResult):
        result = FenceResult.unproven(FAILED, "fence agent %s returned %r" % (agent, type(result).__name__))
    return result


def _contradicted(result, host_uuid, deadline, still_alive, confirm_seconds):
    """`result` (a verified off) unless the host still answers or cannot be checked: then a failure."""
    try:
        alive = bool(still_alive(time.monotonic() + max(0.5, min(confirm_seconds, remaining(deadline) or 0.5))))
        why = "still answers"
    except Exception as exc:  # noqa: BLE001 - a check that fails proves nothing: maybe alive
        log.warning("could not cross-check host {} after fencing: {}", host_uuid, type(exc).__name__)
        alive, why = True, "could not be cross-checked (%s)" % type(exc).__name__
    if not alive:
        return result
    return FenceResult.unproven(FAILED, "%s; but host %s %s, so the fence is not trusted"
                                % (result.detail, host_uuid, why))


def _reset(agent, host_uuid, deadline, still_alive, confirm_seconds):
    """A reset as off, cross-check, on: verified `reset` (or `off` when the power-on is not confirmed)
    only when the host was silent between the two steps."""
    off = _run(agent, host_uuid, "stop", deadline)
    if not (off.verified and off.state == OFF):
        return off
    checked = _contradicted(off, host_uuid, deadline, still_alive, confirm_seconds)
    on = _run(agent, host_uuid, "start", deadline)
    if not checked.verified:
        return FenceResult.unproven(FAILED, "%s; power on again: %s" % (checked.detail, on.detail))
    if on.verified and on.state == ON:
        return FenceResult.proven(RESET, "reset as off then on: %s; %s" % (off.detail, on.detail))
    return FenceResult.proven(OFF, "%s; power-on not confirmed: %s" % (off.detail, on.detail))


def fence_host(agent, host_uuid, action, deadline, still_alive=None, confirm_seconds=CONFIRM_SECONDS):
    """Fence `host_uuid` with `agent`; `still_alive(deadline) -> bool` cross-checks a claimed `off`.

    `still_alive` is typically
    `lambda d: host_still_answers(platform, address, d, source)`.
    The confirmation gets its own short deadline (`confirm_seconds`), so a
    dead host's silence cannot use up the fence deadline. With `still_alive`,
    a `reset` is split into off and on around the check (module docstring).
    """
    check_action(action)
    if action == "reset" and still_alive is not None:
        result = _reset(agent, host_uuid, deadline, still_alive, confirm_seconds)
    else:
        result = _run(agent, host_uuid, action, deadline)
        if result.verified and result.state == OFF and still_alive is not None:
            result = _contradicted(result, host_uuid, deadline, still_alive, confirm_seconds)
    (log.info if result.verified else log.error)("fence {} {}: {}", host_uuid, action, result.detail)
    return result
