"""This host's copy of the membership (core.membership) and the master's changes to it.

Why: quorum is judged by several jobs (host_health, self_fence,
master_watch, takeover), often while the master is silent, so they all read
the copy that `pool_state` caches each cycle (state file `membership`). The
copy carries the identity of the service run that read it (boot id, the
supervisor's start record): a copy from before a reboot or a service
restart is stale, and a stale copy gives this host no vote until it reads
the pool's membership again.
"""
from dataclasses import replace

from halizard.core import membership as rule
from halizard.core import quorum as quorum_rule
from halizard.probes import clock

STATE = "membership"
SERVICE_START = "service-start"  # written by the supervisor at each start (supervisor.daemon.START_STATE)


def _run_identity(store):
    start = store.read(SERVICE_START, {}) or {}
    return [clock.boot_id(), start.get("started"), start.get("pid")]


def record(store, text, as_master=False):
    """Cache the membership text read from the pool database during this run of the service.

    as_master: read from this host's own database while it is master. That database may predate a
    takeover that excluded this host (an old master coming back), so the copy counts only once this
    run confirmed that no other host answers as master (confirm_master)."""
    run = _run_identity(store)

    # a read also starts a new quorum-loss episode (note_quorum): the others' timed wait can only
    # have started after this host last reached the master
    def change(old):
        old = old or {}
        counts = not as_master or old.get("master_confirmed") == run
        return dict(old, text=text or "", run=run if counts else None, read_in=run, unconfirmed=not counts,
                    lost_since=None, lost_invalidated=False)
    store.update(STATE, change, {})


def confirm_master(store):
    """This run of the service checked that no other host answers as master (a master cycle found
    none, or this host's own takeover did before its transition): its own database's membership,
    read during this run, counts from now on."""
    run = _run_identity(store)

    def change(old):
        old = old or {}
        revive = old.get("unconfirmed") and old.get("read_in") == run  # not a copy made stale since
        return dict(old, master_confirmed=run, unconfirmed=False, **({"run": run} if revive else {}))
    if (store.read(STATE, None) or {}).get("master_confirmed") != run:
        store.update(STATE, change, {})


def vouch(store):
    """The admin confirmed the pool's state (recover_fenced_host): this host's copy counts as read in
    this run again. Why: a takeover slave that could not fence rebooted once while the master was
    dead, so its copy is older than its reboot and it has no vote; it is the takeover slave, so the
    pool would wait forever. Returns the epoch trusted, or None when there is no copy."""
    stored = store.read(STATE, None)
    if not isinstance(stored, dict):
        return None
    store.write(STATE, dict(stored, run=_run_identity(store), lost_since=None, lost_invalidated=False))
    m, _fresh = current(store)
    return m.epoch if m is not None else 0


def invalidate(store):
    """Forget that the copy is fresh (this host self-fences: the pool may exclude it meanwhile)."""
    store.update(STATE, lambda old: dict(old or {}, run=None, unconfirmed=False), {})


def note_quorum(store, has_quorum, now, policy):
    """Self-fence hook, each check: a host without quorum for the self-fence wait minus its own
    detection time may have been excluded by the others' timed wait meanwhile, so its copy stops
    being fresh then (once per loss; `now` on the boot clock). A shorter loss (a witness lease
    changing hands) keeps it: nobody can have proven this host dead by then."""
    from halizard.core import timing

    stored = store.read(STATE, None)
    if not isinstance(stored, dict):
        return
    since = stored.get("lost_since")
    if has_quorum:
        if since is not None:
            store.write(STATE, dict(stored, lost_since=None, lost_invalidated=False))
        return
    if since is None:
        store.write(STATE, dict(stored, lost_since=now, lost_invalidated=False))
    elif not stored.get("lost_invalidated") and now - since >= rule.stale_after(
            timing.recovery_wait(policy), timing.isolation_detect(policy)):
        store.write(STATE, dict(stored, run=None, lost_invalidated=True, unconfirmed=False))


def current(store):
    """(Membership or None when the pool never wrote one, fresh: read during this service run)."""
    stored = store.read(STATE, None)
    if not isinstance(stored, dict):
        return None, False
    fresh = stored.get("run") == _run_identity(store)
    try:
        m = rule.parse(stored.get("text"))
    except rule.MembershipError:
        return rule.Membership(epoch=1 << 30), False  # unreadable: treat as stale, no vote
    return (m if stored.get("text") else None), fresh


def vote(store, self_uuid, enabled):
    """core.membership.vote from this host's copy.

    A host with no copy at all (never read one, e.g. first start with the master silent) votes
    with every enabled host, as before membership existed.
    """
    m, fresh = current(store)
    stored = store.read(STATE, None)
    if m is None and stored is not None and not fresh:
        m = rule.Membership()  # a stale copy of an unwritten membership is stale all the same
    v = rule.vote(self_uuid, enabled, m, fresh)
    if not v.member and not fresh and (stored or {}).get("unconfirmed") and self_uuid not in m.excluded:
        return replace(v, why="this host started as master and has not yet checked that no other host took "
                              "over; the membership of its own database counts once a master cycle did")
    return v


def takeover_order(store):
    """core.membership.takeover_order of this host's copy: the hosts that rank last as the takeover slave."""
    m, _fresh = current(store)
    return rule.takeover_order(m) if m is not None else ()


def quorum(store, self_uuid, enabled, reachable, heuristics_ok, policy, witness_held=None):
    """core.quorum.compute among the voters of this host's membership copy (and, while a change is
    not acknowledged, among the last acknowledged voters too: the weaker result counts)."""
    v = vote(store, self_uuid, enabled)
    results = [quorum_rule.compute(self_uuid, voters, reachable, heuristics_ok, policy, witness_held, vote=v)
               for voters in ((v.voters,) if v.joint_voters is None else (v.voters, v.joint_voters))]
    return quorum_rule.weakest(results)


def commit_if_acknowledged(session, store, log, voters):
    """Master only: end the joint rule once every voter read the current epoch (their acks)."""
    from halizard.xapi import membership as db

    m = rule.parse(db.read_text(session))
    if m.joint is None or not rule.acknowledged(m, voters, db.read_acks(session)):
        return m
    new = rule.commit(m)
    db.write_text(session, rule.format_text(new))
    record(store, rule.format_text(new))
    log.info("membership epoch {} acknowledged by every voter: {}", new.epoch, rule.describe(new))
    return new


def acknowledge(session, self_uuid, text, acked):
    """Tell the master which epoch this host read (its host other_config), when it changed; returns
    the acknowledged epoch as stored now."""
    from halizard.xapi import membership as db

    try:
        epoch = rule.parse(text).epoch
    except rule.MembershipError:
        return acked
    if acked != str(epoch):
        db.write_ack(session, self_uuid, epoch)
    return str(epoch)


def change(session, store, log, exclude=(), readmit=()):
    """Master only: exclude proven-dead hosts and/or re-admit returned ones; returns the new Membership.

    Read, change and write in one go (the master is the only writer); the local copy follows at once.
    """
    from halizard.xapi import membership as db

    text = db.read_text(session)
    old = rule.parse(text)
    new = rule.readmit(rule.exclude(old, exclude), readmit)
    if new != old:
        db.write_text(session, rule.format_text(new))
        record(store, rule.format_text(new))
        log.warning("membership epoch {} -> {}: {}", old.epoch, new.epoch, rule.describe(new))
    return new


def status(root, self_uuid):
    """What `ha-cfg status` shows of the membership, from this host's copy and its cached pool view:
    {"epoch", "excluded" (names), "pending", "votes", "acknowledged" (the epoch this host acknowledged
    as the view shows it), "text"}; None before this host read one."""
    from halizard.statefiles import StateStore

    store = StateStore(root)
    if store.read(STATE, None) is None:
        return None
    m, fresh = current(store)
    m = m if m is not None else rule.Membership()
    hosts = (store.read("pool-view", {}) or {}).get("hosts") or ()
    names = {h.get("uuid"): h.get("name_label") or h.get("uuid") for h in hosts}
    mine = next((h for h in hosts if h.get("uuid") == self_uuid), {})
    acked = mine.get("membership_ack")
    votes = self_uuid not in m.excluded and fresh
    text = "%s%s; this host %s%s" % (
        rule.describe(m, names),
        ", a change not yet acknowledged by every voter" if m.joint is not None else "",
        "votes" if votes else ("is excluded" if self_uuid in m.excluded else "has no vote (its copy is stale)"),
        ", acknowledged epoch %s" % acked if acked not in (None, "") else "")
    return {"epoch": m.epoch, "excluded": sorted(names.get(u, u) for u in m.excluded), "pending": m.joint is not None,
            "votes": votes, "acknowledged": int(acked) if str(acked).isdigit() else None, "text": text}


def waiting(root, config, self_uuid, witness_held):
    """Why this host does not act now ('waiting for re-admission', 'waiting for the witness'): lines for
    `ha-cfg get-vm-ha`, from this host's state files (its membership copy, witness lease, last quorum).

    witness_held: jobs.witness.held, passed in by the caller (jobs.witness serves the peer query, whose
    answer reads this module: importing it here would close a cycle)."""
    from halizard.core.policy import Policy, PolicyError
    from halizard.statefiles import StateStore

    try:
        policy = Policy.from_mapping(config.as_mapping())
    except PolicyError:
        return ()

    store = StateStore(root)
    view = store.read("pool-view", {}) or {}
    enabled = [h.get("uuid") for h in view.get("hosts") or () if h.get("enabled")]
    last = ((store.read("self-fence", {}) or {}).get("quorum") or {}).get("has_quorum")
    return rule.waiting_text(vote(store, self_uuid, enabled), policy.witness_configured,
                             witness_held(store, policy), last is not False)
