"""The self-fencing timing rule, computed and checked.

A host cut off from the pool (management link down, or no quorum while the
other side could hold it) stops its own VMs and, if they do not stop in
time, reboots. The pool may then restart those VMs without any fence agent,
but only after waiting longer than the isolated host could possibly need.

Worst case, measured from the moment the cut happened (which is no later
than the first failed probe of the recovering side):

  round       R = XAPI_COUNT * XE_TIMEOUT + (XAPI_COUNT - 1) * XAPI_DELAY
  detect      max(SELF_FENCE_CHECK_INTERVAL + MGT_LINK_LOSS_TOLERANCE,
                  max(MONITOR_DELAY, R) + R)      (a round in flight at the cut may still
                                                   succeed; the next one starts at most
                                                   max(MONITOR_DELAY, R) later and takes R)
  service     S = SERVICE_RESTART_ALLOWANCE (from the unit's real values, below), or
                  min(S, SELF_FENCE_WATCHDOG + beat_window) with the watchdog backstop on
                  (a frozen service then reboots the host within the device's timeout
                  after the last self-fence check that vouched for it)
  deadline    D = detect + S + SELF_FENCE_STOP_TIMEOUT + REBOOT_ALLOWANCE
  minimum     M = D + XE_TIMEOUT   (the recovering side measures from the START of its first
                                    failed try; the cut may fall anywhere inside that try)
  witness     V = 0 without a witness, else core.witness.vote_wait(WITNESS_LEASE) + beat_window
                  (a cut-off host may wait that long for the witness's vote before its self-fence
                  begins: up to vote_wait after the loss was confirmed, seen at its next check)
  wait        W = SELF_FENCE_WAIT if set, else M + V + SAFETY_MARGIN;  W must be > M + V

docs/decisions.md writes the rule out; `check` refuses unsafe combinations
with an explanation and lists the weaker-but-allowed ones as warnings.
"""


import math
from dataclasses import dataclass
from typing import Optional, Tuple

from halizard.core import witness
from halizard.core.policy import Policy

# The service's own restart, from the real values of init/ha-lizard.service and init/ha-lizard-watchdog
# (tests/unit/core/test_core_timing_unit.py reads both files): a hung service stops feeding systemd's
# watchdog, is noticed WatchdogSec later, killed at most TimeoutStopSec after that (the abort timeout
# defaults to it), and started again RestartSec later; the SysV watchdog restarts a dead one every
# WATCH_INTERVAL. SERVICE_START: from the new process to its first self-fence check.
UNIT_WATCHDOG_SEC = 30.0
UNIT_TIMEOUT_STOP_SEC = 30.0
UNIT_RESTART_SEC = 2.0
SYSV_WATCH_INTERVAL = 10.0
SERVICE_START = 5.0
SERVICE_RESTART_ALLOWANCE = (max(UNIT_WATCHDOG_SEC + UNIT_TIMEOUT_STOP_SEC + UNIT_RESTART_SEC, SYSV_WATCH_INTERVAL)
                             + SERVICE_START)
# From "reboot now" to every domain of the host being gone.
REBOOT_ALLOWANCE = 5.0
# Extra wait on the recovering side beyond the computed deadline.
SAFETY_MARGIN = 5.0
# The self_fence job's check: a probe may overrun its bound this much before it counts as not
# answering; listing the local domains (`xl list`) may take this long, after that they count as running.
PROBE_SLACK = 1.0
DOMAIN_LIST_SECONDS = 3.0
BEAT_SLACK = 1.0


class UnsafeTiming(ValueError):
    """The parameters break the self-fencing timing rule; the message explains how."""


@dataclass(frozen=True)
class TimingReport:
    """The derived times and what is wrong or weak about a Policy."""

    probe_round: float
    detect: float
    self_fence_deadline: float
    minimum_wait: float
    recovery_wait: float
    errors: Tuple[str, ...]
    warnings: Tuple[str, ...]

    @property
    def safe(self) -> bool:
        return not self.errors


# A real xapi answers a failed login (the probes' empty password on a master) only after this pause
# (thread_delay_and_raise_error): a try deadline at or below it never sees a master answer.
XAPI_LOGIN_FAILURE_PAUSE = 5.0

def probe_round(policy: Policy) -> float:
    """Longest time one probe round (XAPI_COUNT tries) can take."""
    return policy.XAPI_COUNT * policy.XE_TIMEOUT + (policy.XAPI_COUNT - 1) * policy.XAPI_DELAY


def isolation_detect(policy: Policy) -> float:
    """Longest time an isolated host needs to notice it is isolated."""
    r = probe_round(policy)
    link = policy.SELF_FENCE_CHECK_INTERVAL + policy.MGT_LINK_LOSS_TOLERANCE
    quorum = max(policy.MONITOR_DELAY, r) + r
    return max(link, quorum)


def self_fence_probe_seconds(policy: Policy) -> float:
    """Bound of one network probe in a self-fence check."""
    return max(0.5, min(2.0, policy.XE_TIMEOUT / 2.0))


def self_fence_check_bound(policy: Policy, listing: bool = False) -> float:
    """Longest time one self-fence check takes: its probes (every peer and heuristic address at once,
    halizard.probes.sweep), slack, and with `listing` the bounded list of the local domains."""
    return self_fence_probe_seconds(policy) + PROBE_SLACK + 1.0 + (DOMAIN_LIST_SECONDS if listing else 0.0)


def beat_window(policy: Policy) -> float:
    """How long one self-fence check vouches for the job with the watchdog backstop: until the next
    check has surely begun and ended (its probes and a domain list), plus a second."""
    return policy.SELF_FENCE_CHECK_INTERVAL + self_fence_check_bound(policy, listing=True) + BEAT_SLACK


def service_allowance(policy: Policy) -> float:
    """Longest time the isolated host's service may be frozen or dead before it acts again, or before
    the watchdog device reboots the host (its timeout after the last check that vouched for the job)."""
    if policy.SELF_FENCE_WATCHDOG > 0:
        return min(SERVICE_RESTART_ALLOWANCE, policy.SELF_FENCE_WATCHDOG + beat_window(policy))
    return SERVICE_RESTART_ALLOWANCE


def self_fence_deadline(policy: Policy) -> float:
    """Seconds after a cut by which the isolated host's VMs are surely stopped."""
    return (isolation_detect(policy) + service_allowance(policy)
            + policy.SELF_FENCE_STOP_TIMEOUT + REBOOT_ALLOWANCE)


def minimum_wait(policy: Policy) -> float:
    """The wait, from the start of the first failed try, that the rule requires to exceed."""
    return self_fence_deadline(policy) + policy.XE_TIMEOUT


def witness_delay(policy: Policy) -> float:
    """How much later than without a witness a cut-off host may begin to self-fence: it waits for the
    witness's vote up to core.witness.vote_wait after the loss was confirmed, and acts at the first
    self-fence check after that (one beat_window). Covers the holder too (its lease, shorter)."""
    if not policy.witness_configured:
        return 0.0
    return float(math.ceil(witness.vote_wait(policy.WITNESS_LEASE) + beat_window(policy)))  # whole seconds


def recovery_wait(policy: Policy) -> float:
    """Seconds after the first failed probe before the pool may restart without a fence."""
    if policy.SELF_FENCE_WAIT > 0:
        return policy.SELF_FENCE_WAIT
    return minimum_wait(policy) + witness_delay(policy) + SAFETY_MARGIN


def check(policy: Policy, host_count: Optional[int] = None) -> TimingReport:
    """Every derived time plus the errors (refuse) and warnings (allow) for this Policy."""
    r = probe_round(policy)
    detect = isolation_detect(policy)
    deadline = self_fence_deadline(policy)
    wait = recovery_wait(policy)
    minimum = minimum_wait(policy)
    errors = []
    warnings = []
    if policy.SELF_FENCE_WAIT > 0 and policy.SELF_FENCE_WAIT <= minimum:
        errors.append(
            "SELF_FENCE_WAIT=%g is not longer than the self-fence deadline of %gs "
            "(detection %gs + service restart %gs + SELF_FENCE_STOP_TIMEOUT %gs + reboot %gs) "
            "plus one probe (XE_TIMEOUT %gs): VMs could be restarted while the isolated host still "
            "runs them; set it above %g or to 0 (automatic)"
            % (policy.SELF_FENCE_WAIT, deadline, detect, service_allowance(policy),
               policy.SELF_FENCE_STOP_TIMEOUT, REBOOT_ALLOWANCE, policy.XE_TIMEOUT, minimum)
        )
    errors.extend(witness.lease_errors(policy, minimum, wait, witness_delay(policy)))
    if policy.SELF_FENCE_CHECK_INTERVAL > max(policy.MGT_LINK_LOSS_TOLERANCE, 1.0) * 2:
        warnings.append(
            "SELF_FENCE_CHECK_INTERVAL=%g is coarse next to MGT_LINK_LOSS_TOLERANCE=%g: "
            "link loss is noticed late (the deadline accounts for it)"
            % (policy.SELF_FENCE_CHECK_INTERVAL, policy.MGT_LINK_LOSS_TOLERANCE)
        )
    if policy.XE_TIMEOUT <= XAPI_LOGIN_FAILURE_PAUSE:
        warnings.append(
            "XE_TIMEOUT=%g is not above xapi's %gs pause before it refuses a login "
            "(SESSION_AUTHENTICATION_FAILED): a second master looks silent to the probes; set it above %g"
            % (policy.XE_TIMEOUT, XAPI_LOGIN_FAILURE_PAUSE, XAPI_LOGIN_FAILURE_PAUSE))
    if policy.MGT_LINK_LOSS_TOLERANCE == 0:
        warnings.append("MGT_LINK_LOSS_TOLERANCE=0: any management link blip stops this host's VMs")
    if not policy.FENCE_ENABLED:
        warnings.append(
            "FENCE_ENABLED=0: a failed host's VMs restart only after the self-fence wait of %gs, "
            "and only on a side holding a strict majority" % wait
        )
    if policy.FENCE_ENABLED and policy.FENCE_METHOD.upper() == "POOL":
        warnings.append(
            "FENCE_METHOD=POOL powers nothing off: death is proven by the self-fence wait of %gs "
            "on a side holding a strict majority" % wait
        )
    if not policy.FENCE_QUORUM_REQUIRED:
        warnings.append("FENCE_QUORUM_REQUIRED=0: a minority side may fence; only a verified fence "
                        "lets it restart VMs")
    if host_count is not None and host_count % 2 == 0:
        if not policy.heuristics_configured:
            warnings.append(
                "%d hosts and no heuristic addresses: an even split leaves no side with quorum" % host_count
            )
        elif host_count == 2:
            warnings.append(
                "2-host pool: quorum by the heuristic tie-break cannot prove the peer dead, so its VMs "
                "restart only after a verified fence (XVM, ILO, IRMC or a custom agent)"
            )
    return TimingReport(r, detect, deadline, minimum, wait, tuple(errors), tuple(warnings))


def validate(policy: Policy, host_count: Optional[int] = None) -> TimingReport:
    """check(), raising UnsafeTiming with the first explanation when the rule is broken."""
    report = check(policy, host_count)
    if report.errors:
        raise UnsafeTiming(report.errors[0])
    return report
