"""The what-if plan and the failure tolerance of the live pool, from the jobs' own inputs.

Why: `ha-cfg plan`, `ha-cfg status`, the tolerance alert and the metrics
must all give the same answer, so they read the pool, the policy and the
operator stops the way vm_monitor does (read_snapshot, policy_of, this host's
intent state: on the master it is the one the jobs act on) and ask
core.capacity.
"""
from halizard.config.effective import policy_of
from halizard.core import capacity
from halizard.core import intent as intent_mod
from halizard.statefiles import StateStore
from halizard.xapi.observe import read_snapshot
from halizard.alerts import raise_alert

TOLERANCE_STATE = "failure-tolerance"
REFRESH_SECONDS = 60.0
ALERT_FUNCTION = "failure_tolerance"


class Inputs:
    """One read of the pool plus the policy and operator stops this host decides with."""

    def __init__(self, root, session, config, timeout=None, snapshot=None):
        self.snapshot = snapshot or read_snapshot(session, config.xc_field_key, timeout=timeout)
        self.pool = self.snapshot.pool
        self.policy = policy_of(config)
        self.operator_stopped = intent_mod.load(StateStore(root)).operator_stopped
        self.usable = self.snapshot.usable_hosts()
        self.required = int(config.get("FAILURES_TO_TOLERATE") or 0)

    def plan(self, failed):
        return capacity.what_if(self.pool, self.policy, frozenset(failed),
                                operator_stopped=self.operator_stopped, usable=self.usable)

    def tolerance(self):
        return capacity.tolerance(self.pool, self.policy, operator_stopped=self.operator_stopped,
                                  usable=self.usable)

    def name(self, host_uuid):
        host = self.pool.host(host_uuid) if host_uuid else None
        return (host.name_label or host.uuid) if host else "XAPI's choice"


def tolerance_text(tol, required):
    """One line: the tolerance, whether it is exact, and the required figure."""
    text = "%d host failure%s%s (required %d)" % (
        tol.failures, "" if tol.failures == 1 else "s", "" if tol.exact else " at least (bound)", required)
    if not tol.fits_now:
        text += "; the protected VMs do not all fit even now"
    return text


def record(state, tol, required, names, now):
    """Store the last figure (read by metrics and status); returns the stored dict."""
    value = {"failures": tol.failures, "exact": tol.exact, "fits_now": tol.fits_now,
             "required": required, "worst": list(names), "at": now}
    state.write(TOLERANCE_STATE, value)
    return value


def check(root, session, config, state, log, now, snapshot=None):
    """On the master each VM sweep (its snapshot reused; at most every REFRESH_SECONDS): compute, store,
    and alert while below FAILURES_TO_TOLERATE.

    raise_alert screens the same text for MAIL_SCREEN_TIME, so a lasting
    shortfall alerts once per screen time. Never raises: capacity is advice.
    """
    stored = state.read(TOLERANCE_STATE, {}) or {}
    if isinstance(stored.get("at"), (int, float)) and 0 <= now - stored["at"] < REFRESH_SECONDS:
        return stored  # a large pool's exact answer costs up to 512 plans: not every sweep
    try:
        inputs = Inputs(root, session, config, snapshot=snapshot)
        tol = inputs.tolerance()
        value = record(state, tol, inputs.required, [inputs.name(u) for u in tol.worst], now)
    except Exception as exc:  # noqa: BLE001 - a what-if must never stop the HA cycle
        log.warning("failure tolerance not computed: {}", exc)
        return None
    if tol.failures < inputs.required or not tol.fits_now:
        worst = " (e.g. if %s failed)" % ", ".join(value["worst"]) if value["worst"] else ""
        try:
            raise_alert(ALERT_FUNCTION, "the pool tolerates %s%s" % (tolerance_text(tol, inputs.required), worst),
                        root=root, config=config, session=session)
        except Exception as exc:  # noqa: BLE001 - an alert never ends the cycle
            log.error("failure tolerance alert not raised: {}", type(exc).__name__)
    return value
