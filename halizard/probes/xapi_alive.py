"""Proof that a host's xapi answers: one login attempt with a deadline and no credentials.

Why: liveness was once proven by matching the text of a web page (modern
hosts answer GET / with 403 or a redirect). A login is what xapi itself
answers, and it needs no password to prove anything: the probe sends root
with an empty password (nothing secret crosses the wire). A slave refuses
at once with `HOST_IS_SLAVE [master]` before any authentication or database
access; a master refuses with SESSION_AUTHENTICATION_FAILED (real xapi
pauses 5 s before that answer and counts a failed login, see
halizard/sim/INTERFACE.md "The local socket": so ha-lizard probes a master
only when the master did not answer through the local socket). Those
outcomes, and only those, count as alive; any other failure, a timeout or
an unreachable port is "not proven alive".
"""
import time
from dataclasses import dataclass
from typing import Optional

from halizard.core.health import Login
from halizard.probes.deadline import remaining
from halizard.xapi.errors import XapiError, XapiFailure, XapiTimeout, XapiUnreachable
from halizard.xapi.session import open_session

PROBE_USER = "root"
PROBE_PASSWORD = ""          # never the real one: the answer, not the login, is the proof
MASTER, SLAVE, REFUSED = Login.MASTER, Login.SLAVE, Login.REFUSED  # XapiLiveness.state (core.health.Login)
TIMEOUT, UNREACHABLE, GARBAGE = Login.TIMEOUT, Login.UNREACHABLE, Login.GARBAGE


@dataclass(frozen=True)
class XapiLiveness:
    """One empty login attempt: alive only for MASTER or SLAVE."""

    alive: bool
    state: Login
    detail: str
    elapsed: float
    master_address: Optional[str] = None   # what HOST_IS_SLAVE named


def xapi_alive(address, deadline, source=None):
    """Try an empty login to the xapi at `address` (or URL) before `deadline`; never raises XapiError."""
    started = time.monotonic()
    seconds = remaining(deadline)
    if seconds <= 0:
        return XapiLiveness(False, TIMEOUT, "no time left for a login attempt", 0.0)
    try:
        session = open_session(address, PROBE_USER, PROBE_PASSWORD, timeout=seconds, source_address=source)
    except XapiFailure as exc:
        elapsed = time.monotonic() - started
        if exc.code == "HOST_IS_SLAVE":
            master = exc.params[0] if exc.params else None
            return XapiLiveness(True, SLAVE, "xapi answered HOST_IS_SLAVE", elapsed, master)
        if exc.code == "SESSION_AUTHENTICATION_FAILED":
            return XapiLiveness(True, MASTER, "xapi answered as master (SESSION_AUTHENTICATION_FAILED)", elapsed)
        return XapiLiveness(False, REFUSED, "xapi answered %s, which proves nothing" % exc.code, elapsed)
    except XapiTimeout:
        return XapiLiveness(False, TIMEOUT, "xapi did not answer within %.1fs" % seconds,
                            time.monotonic() - started)
    except XapiUnreachable as exc:
        return XapiLiveness(False, UNREACHABLE, "xapi unreachable: %s" % exc.reason, time.monotonic() - started)
    except XapiError as exc:
        return XapiLiveness(False, REFUSED, type(exc).__name__, time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 - any garbage answer is "not proven", never a crash
        return XapiLiveness(False, GARBAGE, "unusable answer from xapi (%s)" % type(exc).__name__,
                            time.monotonic() - started)
    elapsed = time.monotonic() - started
    session.logout()
    return XapiLiveness(True, MASTER, "xapi accepted an empty login as master", elapsed)
