"""Probe every peer at once: XAPI_COUNT tries XAPI_DELAY apart, each with a deadline.

Why: the old product probed one host after another, so detection time grew
with the number of failed hosts times the retries. Here every peer gets its
own thread; a round over N peers takes as long as the slowest peer alone:
at most `tries * try_timeout + (tries - 1) * delay` seconds.

One try = a network probe (at most half the try's time) and then a login
attempt (the rest). A try succeeds when xapi answers (network probe results
only feed `network_ok`, which quorum and the isolation proof use). Retrying
stops at the first success. The results are plain frozen data;
`PeerProbe.as_core()` turns one into `halizard.core.health.ProbeResult`.
"""
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional

from loguru import logger

from halizard.probes import clock, net
from halizard.probes.deadline import remaining
from halizard.core.health import Login
from halizard.probes.xapi_alive import xapi_alive
from halizard.core.health import ProbeResult

log = logger.bind(function="check_xapi")


@dataclass(frozen=True)
class Peer:
    """A host to probe: its uuid, its address, and optionally how to probe its network / xapi."""

    host_uuid: str
    address: str
    target: Optional[net.ProbeTarget] = None   # default: ICMP ping to `address`
    xapi_address: Optional[str] = None         # default: `address` (port 80)


@dataclass(frozen=True)
class Round:
    """How one probe round runs: up to `tries` tries `delay` s apart, each within `try_timeout` s.

    `deadline` (monotonic) bounds the whole round and `stop` (threading.Event) ends it early: both
    leave fewer tries than asked for, which the core reads as "not judged yet". `now` stamps the
    failures (clock.now: CLOCK_BOOTTIME)."""

    tries: int
    delay: float
    try_timeout: float
    deadline: Optional[float] = None
    now: Callable[[], float] = clock.now
    stop: Optional[threading.Event] = None

    @classmethod
    def of(cls, policy, deadline=None):
        """The round the policy asks for: XAPI_COUNT tries XAPI_DELAY apart, each within XE_TIMEOUT."""
        return cls(policy.XAPI_COUNT, policy.XAPI_DELAY, policy.XE_TIMEOUT, deadline=deadline)


@dataclass(frozen=True)
class PeerProbe:
    """One probe round of one peer, as plain data.

    tries: tries completed; xapi_ok: some try proved xapi alive; network_ok:
    True if any try reached the host by network, False if every completed
    try failed to, None if never measured; first_failure_at: `now()`
    (clock.now: CLOCK_BOOTTIME, no wall-clock step moves it) at the start of
    the first failed try of this round (None when xapi answered at once); xapi_state: the last login outcome (master/slave/refused/timeout/
    unreachable, or "" if none ran); master_address: what HOST_IS_SLAVE named;
    observed_at: `now()` when the round ended (the age of what it proves).
    """

    host_uuid: str
    address: str
    tries: int
    xapi_ok: bool
    network_ok: Optional[bool]
    first_failure_at: Optional[float]
    xapi_state: Optional[Login]
    detail: str
    elapsed: float
    master_address: Optional[str] = None
    observed_at: Optional[float] = None

    def as_core(self, streak_started_at=None):
        """This round as the core's `ProbeResult`.

        `streak_started_at`: when the failure streak of earlier rounds began
        (the caller keeps it between rounds); a failed round continues it, a
        successful one ends it.
        """
        first = None
        if not self.xapi_ok:
            known = [t for t in (streak_started_at, self.first_failure_at) if t is not None]
            first = min(known) if known else None
        return ProbeResult(tries=self.tries, xapi_ok=self.xapi_ok, network_ok=self.network_ok,
                           first_failure_at=first, observed_at=self.observed_at)


def _network(peer, deadline, source):
    target = peer.target or net.ProbeTarget(peer.address)
    try:
        return net.probe(target, deadline, source)
    except net.ProbeSetupError as exc:
        log.error("network probe of {} cannot run: {}", peer.address, exc)
        return None


def probe_peer(peer, rnd, source=None):
    """Probe one peer as the Round `rnd` says, from `source`; never raises for probe failures."""
    tries, delay, try_timeout, deadline, now = rnd.tries, rnd.delay, rnd.try_timeout, rnd.deadline, rnd.now
    if tries < 1 or delay < 0 or try_timeout <= 0:
        raise ValueError("tries >= 1, delay >= 0 and try_timeout > 0 are required")
    stop = rnd.stop or threading.Event()
    started = time.monotonic()
    done = 0
    network_seen = []
    first_failure = None
    state, detail, master = "", "not probed", None
    for attempt in range(tries):
        if attempt:
            wait = delay if deadline is None else min(delay, remaining(deadline))
            if stop.wait(wait) or (deadline is not None and remaining(deadline) <= 0):
                break
        if stop.is_set():
            break
        try_started_at = now()
        try_deadline = time.monotonic() + try_timeout
        if deadline is not None:
            try_deadline = min(try_deadline, deadline)
        net_deadline = min(try_deadline, time.monotonic() + try_timeout / 2.0)
        reach = _network(peer, net_deadline, source)
        if reach is not None:
            network_seen.append(reach.ok)
        login = xapi_alive(peer.xapi_address or peer.address, try_deadline, source)
        done += 1
        state, master = login.state, login.master_address
        net_text = "network not measured" if reach is None else reach.detail
        detail = "try %d/%d: %s; %s" % (attempt + 1, tries, net_text, login.detail)
        if login.alive:
            network_seen.append(True)
            break
        if first_failure is None:
            first_failure = try_started_at
        log.warning("host {} ({}) {}", peer.host_uuid, peer.address, detail)
    xapi_ok = state in (Login.MASTER, Login.SLAVE)
    network_ok = (any(network_seen) if network_seen else None)
    return PeerProbe(peer.host_uuid, peer.address, done, xapi_ok, network_ok,
                     None if xapi_ok else first_failure,
                     state, detail, time.monotonic() - started, master, now())


def probe_peers(peers, rnd, source=None):
    """Probe all `peers` in parallel, each as the Round `rnd` says; returns {host_uuid: PeerProbe} for every peer."""
    peers = list(peers)
    if not peers:
        return {}
    with ThreadPoolExecutor(max_workers=len(peers), thread_name_prefix="probe") as pool:
        futures = {peer.host_uuid: pool.submit(probe_peer, peer, rnd, source) for peer in peers}
        return {uuid: future.result() for uuid, future in futures.items()}


def probe_hosts(platform, hosts, rnd):
    """Probe `hosts` ((host_uuid, address) pairs) as the Round `rnd` says, the way `platform` says, from
    its source address.

    The entry point jobs use: the platform decides how a peer's network is
    probed (ICMP on a real dom0, the reachability port in the simulator).
    """
    peers = [Peer(uuid, address, target=platform.probe_target(address)) for uuid, address in hosts]
    return probe_peers(peers, rnd, source=platform.source_address())
