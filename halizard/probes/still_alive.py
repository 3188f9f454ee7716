"""After a fence says "off": does the host still answer, by network or by xapi?

Why: a BMC can say "off" for the wrong server (a bad map line) while the
host we meant keeps running with a hung xapi. A login alone cannot see that
host (the hang keeps it silent), so the network probe goes first, with part
of the window, and the login gets the rest. Either answer means alive, and
the fence is not trusted (halizard.fence.confirm). A network probe that
cannot run here (setup error, OSError) proves nothing: the login still
decides. An exception out of the whole check is "maybe alive" to the caller.
"""
import time

from halizard.probes import net
from halizard.probes.deadline import remaining
from halizard.probes.xapi_alive import xapi_alive

NETWORK_SHARE = 0.5


def host_still_answers(platform, address, deadline, source=None):
    """True when the host at `address` answers a network probe or an xapi login before `deadline`.

    Without a platform (no way to probe the network here) only the login is tried.
    """
    if not address:
        return False
    window = remaining(deadline)
    if window <= 0:
        return False
    try:
        if platform is None:
            raise net.ProbeSetupError("no platform to probe from")
        target = platform.probe_target(address)
        if net.probe(target, time.monotonic() + window * NETWORK_SHARE, source).ok:
            return True
    except Exception:  # noqa: BLE001 - a network probe that cannot run (OSError too) leaves the login to decide
        pass
    return xapi_alive(address, deadline, source).alive
