"""Job `peer_answer` (every host, a loop job): answer the peer query of the slaves.

Why: a slave that lost the master asks the peers it still reaches whether
they read the master after it lost it, before it fences the master, counts
its death or transitions (halizard.core.peers, docs/master-failure.md). The
answer is this host's uuid, the master its pool.conf names (or "I am the
master"), and how long ago its own master_watch last read that master
successfully, on this host's boot clock (`note_read`, state file
`master-read`); never a wall-clock instant, which means nothing on another
host. One run binds UDP PEER_PORT on this host's management address and
answers until its deadline; the supervisor starts the next run at once.

A host without the pool secret, or whose port cannot be bound, answers
nothing (its peers then hold any takeover: unknown is not dead): the run
says why once (WARNING, again only when the reason changes) and waits out its
deadline; the next run tries again.
"""
from halizard import hostinfo
from halizard.jobs.base import Outcome, Report
from halizard.peers import server, wire

READ = "master-read"
PROBLEM = "peer-answer-problem"
END_MARGIN = 0.5


def note_read(store, began, master_address, boot_id):
    """Record a successful read of `master_address` that began at `began` (boot clock of boot `boot_id`).

    Called by master_watch; written atomically through the state store. The start of the read,
    not its end: the master was alive at some moment of it, no later than its end."""
    store.write(READ, {"at": began, "boot": boot_id, "master": master_address})


def last_read_age(store, master_address, now, boot_id):
    """Seconds since this host last read `master_address` successfully, or None (never in this boot)."""
    stored = store.read(READ, {}) or {}
    at = stored.get("at")
    if stored.get("boot") != boot_id or stored.get("master") != master_address \
            or isinstance(at, bool) or not isinstance(at, (int, float)):
        return None
    return max(0.0, now - at)


def answer_for(env):
    """(this host's uuid, is master, the master pool.conf names, age of the last good read of it)."""
    role, master = hostinfo.read_pool_conf(env.root)
    uuid = env.self_uuid()
    if not uuid:
        raise hostinfo.HostInfoError("this host's uuid is unknown (inventory)")
    if role == "master":
        return uuid, True, "", None
    return uuid, False, master, last_read_age(env.state, master, env.clock.boot(), env.clock.boot_id())


def run(env):
    """Answer peer queries until the run's deadline."""
    clock = env.clock
    end = None if env.deadline is None else clock.monotonic() + (env.deadline - END_MARGIN - clock.wall())
    problem, responder = None, None
    try:
        port = env.platform.peer_port(int(env.config.get("PEER_PORT")))
        address = env.platform.source_address()
        key = wire.pool_key(env.root)
        responder = server.Responder(key, address, port, lambda: answer_for(env), gate=env.platform.peer_gate(),
                                     log=env.log)
    except (wire.WireError, OSError, ValueError, TypeError) as exc:
        problem = "cannot answer peer queries: %s" % (getattr(exc, "strerror", None) or exc)
    if responder is None:
        return _idle(env, problem, end)
    env.state.remove(PROBLEM)
    try:
        if end is not None:
            responder.serve(end, clock.monotonic)
    finally:
        responder.close()
    return Report(Outcome.QUIET, "answered %d peer queries on %s:%d" % (responder.answered, address or "*", port))


def _idle(env, problem, end):
    """Say the problem once (until it changes), then wait out the run: the next run tries again."""
    first = (env.state.read(PROBLEM, {}) or {}).get("why") != problem
    if first:
        env.state.write(PROBLEM, {"why": problem})
    if end is not None:
        env.clock.sleep(max(0.0, end - env.clock.monotonic()))
    return Report(Outcome.DEGRADED if first else Outcome.SKIPPED, problem)
