"""The answer to the peer query of the slaves, served by the `witness` loop job (every host).

Why: a slave that lost the master asks the peers it still reaches whether
they read the master after it lost it, before it fences the master, counts
its death or transitions (halizard.core.peers, docs/master-failure.md). The
answer is this host's uuid, the master its pool.conf names (or "I am the
master"), how long ago its own master_watch last read that master
successfully, on this host's boot clock (`note_read`, state file
`master-read`; never a wall-clock instant, which means nothing on another
host), and whether its membership copy gives it a vote (a host back from the
dead does not: it is never the takeover slave). One run of that job binds UDP PEER_PORT on this host's management address and
answers while the run waits; the supervisor starts the next run at once.

A host without the pool secret, or whose port cannot be bound, answers
nothing (its peers then hold any takeover: unknown is not dead): the run
says why once (WARNING, again only when the reason changes); the next run
tries again.
"""
from halizard import hostinfo
from halizard.jobs import membership
from halizard.jobs.base import Outcome, Report
from halizard.peers import server, wire

READ = "master-read"
PROBLEM = "peer-answer-problem"


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
    """(this host's uuid, is master, the master pool.conf names, age of the last good read of it,
    whether this host's membership copy gives it a vote now)."""
    role, master = hostinfo.read_pool_conf(env.root)
    uuid = env.self_uuid()
    if not uuid:
        raise hostinfo.HostInfoError("this host's uuid is unknown (inventory)")
    votes = membership.vote(env.state, uuid, (uuid,)).member
    if role == "master":
        return uuid, True, "", None, votes
    return uuid, False, master, last_read_age(env.state, master, env.clock.boot(), env.clock.boot_id()), votes


class Answering:
    """This host's answers to the peer query for one run of the `witness` loop job: `pause` serves
    them while the run waits between its witness requests.

    Why in that job: every always-present loop process costs ~10 MB (docs/service.md), and both
    loops only talk to other nodes about votes, so one process does both.
    """

    def __init__(self, env):
        self.env, self.responder, self.address, self.port = env, None, None, None
        problem = None
        try:
            self.port = env.platform.peer_port(int(env.config.get("PEER_PORT")))
            self.address = env.platform.source_address()
            key = wire.pool_key(env.root)
            self.responder = server.Responder(key, self.address, self.port, lambda: answer_for(env),
                                              gate=env.platform.peer_gate(), log=env.log)
        except Exception as exc:  # noqa: BLE001 - the witness requests of this run must go on whatever fails here
            problem = "cannot answer peer queries: %s" % (getattr(exc, "strerror", None) or exc)
        self.problem, self.first = problem, False
        if problem is None:
            env.state.remove(PROBLEM)
        else:  # said once, until the reason changes
            self.first = (env.state.read(PROBLEM, {}) or {}).get("why") != problem
            if self.first:
                env.state.write(PROBLEM, {"why": problem})

    def pause(self, seconds):
        """Wait `seconds`, answering the queries that arrive meanwhile."""
        clock = self.env.clock
        end = clock.monotonic() + seconds
        if self.responder is not None:
            try:
                self.responder.serve(end, clock.monotonic)
                return
            except Exception as exc:  # noqa: BLE001 - never cost the run its witness requests: stop answering
                self.env.log.warning("peer query server stopped for this run: {}", type(exc).__name__)
                self.close()
                self.responder, self.problem = None, "the peer query server failed (%s)" % type(exc).__name__
        clock.sleep(max(0.0, end - clock.monotonic()))

    def close(self):
        if self.responder is not None:
            try:
                self.responder.close()
            except OSError:
                pass

    def summary(self, report):
        """`report` (the witness's) with what this run answered, DEGRADED when the problem is new."""
        if self.problem is not None:
            outcome = Outcome.DEGRADED if self.first else report.outcome
            return Report(outcome, "%s; %s" % (report.text, self.problem))
        return Report(report.outcome, "%s; answered %d peer queries on %s:%d"
                      % (report.text, self.responder.answered, self.address or "*", self.port))
