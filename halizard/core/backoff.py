"""Retry back-off for a VM (or appliance) whose start keeps failing.

Exponential: VM_START_RETRY_BASE * 2**(failures-1), capped at
VM_START_RETRY_CAP. One alert when the failures reach
VM_START_RETRY_ALERT_AFTER, not one per failure; a success drops the state.
A VM backing off never blocks the others: the planner just leaves it alone
until `next_attempt_at`.
"""


from dataclasses import dataclass
from typing import Optional, Tuple

from halizard.core import actions as A
from halizard.core.policy import Policy


@dataclass(frozen=True)
class RetryState:
    """Failures so far, when the next attempt may happen, whether we alerted."""

    failures: int
    next_attempt_at: float
    alerted: bool = False

    def ready(self, now: float) -> bool:
        return now >= self.next_attempt_at


def delay_for(failures: int, policy: Policy) -> float:
    """Seconds to wait after the n-th consecutive failure (n >= 1)."""
    if failures < 1:
        return 0.0
    # cap the exponent too, so a huge count cannot overflow
    exponent = min(failures - 1, 30)
    return min(policy.VM_START_RETRY_BASE * (2 ** exponent), policy.VM_START_RETRY_CAP)


def after_failure(prev: Optional[RetryState], now: float, policy: Policy, name: str,
                  error: str = "") -> Tuple[RetryState, Optional[A.Alert]]:
    """New retry state after a failed start, and the one alert when it is due."""
    failures = (prev.failures if prev else 0) + 1
    alerted = prev.alerted if prev else False
    alert = None
    if not alerted and failures >= policy.VM_START_RETRY_ALERT_AFTER:
        alerted = True
        detail = (": %s" % error) if error else ""
        alert = A.Alert(
            why="%s failed to start %d times in a row" % (name, failures),
            function="vm_mon",
            text="%s failed to start %d times%s; retrying with back-off up to every %gs"
                 % (name, failures, detail, policy.VM_START_RETRY_CAP),
        )
    state = RetryState(failures, now + delay_for(failures, policy), alerted)
    return state, alert
