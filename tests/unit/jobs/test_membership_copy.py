"""This host's membership copy (halizard.jobs.membership): fresh only within the service run that read
it and until a quorum loss long enough for the others to exclude this host."""
from halizard.core import timing
from halizard.core.policy import Policy
from halizard.jobs import membership, witness
from halizard.statefiles import StateStore

ALL = ["h1", "h2", "h3"]


def _store(tmp_path, pid=100):
    store = StateStore(str(tmp_path))
    store.write("service-start", {"started": 1000.0 + pid, "pid": pid})
    return store


def test_no_copy_everyone_votes(tmp_path):
    v = membership.vote(_store(tmp_path), "h1", ALL)
    assert v.member and v.voters == set(ALL)


def test_copy_of_this_run_counts_and_a_service_restart_makes_it_stale(tmp_path):
    store = _store(tmp_path)
    membership.record(store, "1 h3")
    v = membership.vote(store, "h1", ALL)
    assert v.member and v.voters == {"h1", "h2"}
    assert not membership.vote(store, "h3", ALL).member
    store.write("service-start", {"started": 2000.0, "pid": 200})  # the host (its service) restarted
    v = membership.vote(store, "h1", ALL)
    assert not v.member and "older than its last reboot" in v.why
    q = membership.quorum(store, "h1", ALL, ALL, True, Policy())
    assert not q.has_quorum and q.votes == 0
    membership.record(store, "1 h3")
    assert membership.vote(store, "h1", ALL).member
    # an unwritten membership read in an earlier run is stale too
    membership.record(store, "")
    store.write("service-start", {"started": 3000.0, "pid": 300})
    assert not membership.vote(store, "h1", ALL).member


def test_a_long_quorum_loss_makes_the_copy_stale_a_short_one_does_not(tmp_path):
    pol = Policy(XE_TIMEOUT=2, MGT_LINK_LOSS_TOLERANCE=2, SELF_FENCE_STOP_TIMEOUT=3)
    after = timing.recovery_wait(pol) - timing.isolation_detect(pol)
    assert after > pol.WITNESS_LEASE + 2  # a witness lease changing hands is shorter
    store = _store(tmp_path)
    membership.record(store, "")
    membership.note_quorum(store, False, 10.0, pol)
    membership.note_quorum(store, False, 10.0 + after - 0.5, pol)
    assert membership.vote(store, "h1", ALL).member
    membership.note_quorum(store, True, 10.0 + after, pol)       # back before it could be excluded
    membership.note_quorum(store, False, 50.0, pol)
    membership.note_quorum(store, False, 50.0 + after, pol)
    assert not membership.vote(store, "h1", ALL).member
    membership.record(store, "")                                 # read again from the master
    membership.note_quorum(store, False, 50.0 + 2 * after, pol)  # a new episode starts at the read
    assert membership.vote(store, "h1", ALL).member
    membership.note_quorum(store, False, 50.0 + 3 * after, pol)
    assert not membership.vote(store, "h1", ALL).member


class _Config:
    def __init__(self, **values):
        self.values = values

    def as_mapping(self):
        return dict(self.values)


def test_get_vm_ha_says_what_the_host_waits_for(tmp_path):
    store = _store(tmp_path)
    store.write("pool-view", {"hosts": [{"uuid": u, "enabled": True} for u in ALL]})
    membership.record(store, "2 h3")
    assert membership.waiting(str(tmp_path), _Config(), "h1", witness.held) == ()
    lines = membership.waiting(str(tmp_path), _Config(), "h3", witness.held)
    assert len(lines) == 1 and lines[0].startswith("waiting for re-admission")
    store.write("self-fence", {"quorum": {"has_quorum": False}})
    lines = membership.waiting(str(tmp_path), _Config(WITNESS_ADDRESS="127.0.0.1:5405"), "h1", witness.held)
    assert lines == ("waiting for the witness: this side does not hold its vote and has no majority without it",)


def test_the_admins_recovery_vouches_for_a_copy_older_than_the_reboot(tmp_path):
    """recover_fenced_host: the takeover slave rebooted once after a failed fence while the master
    was dead; without the admin's word its copy never counts and the pool waits forever."""
    store = _store(tmp_path)
    assert membership.vouch(store) is None  # no copy: nothing to vouch for
    membership.record(store, "2 h3")
    store.write("service-start", {"started": 2000.0, "pid": 200})
    assert not membership.vote(store, "h1", ALL).member
    assert membership.vouch(store) == 2
    v = membership.vote(store, "h1", ALL)
    assert v.member and v.voters == {"h1", "h2"}


def test_status_shows_the_epoch_the_excluded_hosts_a_pending_change_and_this_hosts_vote(tmp_path):
    store = _store(tmp_path)
    assert membership.status(str(tmp_path), "h1") is None  # never read one
    store.write("pool-view", {"hosts": [{"uuid": "h1", "name_label": "host1", "membership_ack": "3"},
                                        {"uuid": "h3", "name_label": "host3", "membership_ack": "1"}]})
    membership.record(store, "3 h3 joint -")
    shown = membership.status(str(tmp_path), "h1")
    assert shown == {"epoch": 3, "excluded": ["host3"], "pending": True, "votes": True, "acknowledged": 3,
                     "text": "membership epoch 3: excluded as dead: host3, a change not yet acknowledged by "
                             "every voter; this host votes, acknowledged epoch 3"}
    assert not membership.status(str(tmp_path), "h3")["votes"]
    assert "is excluded" in membership.status(str(tmp_path), "h3")["text"]
    store.write("service-start", {"started": 5000.0, "pid": 500})  # restarted: the copy is stale
    assert "has no vote (its copy is stale)" in membership.status(str(tmp_path), "h1")["text"]


def test_a_master_counts_its_own_database_only_after_this_run_confirmed_no_other_master(tmp_path):
    """A returning old master reads the membership from its own database, which may predate a
    takeover that excluded it (3 of 3 votes there): the copy gives no vote until a master cycle
    of this run found no other master (or this host's own takeover checked it)."""
    store = _store(tmp_path)
    membership.record(store, "2 -", as_master=True)
    v = membership.vote(store, "h1", ALL)
    assert not v.member and "no other host took over" in v.why
    assert not membership.quorum(store, "h1", ALL, ALL, True, Policy()).has_quorum
    membership.confirm_master(store)
    assert membership.vote(store, "h1", ALL).member
    membership.record(store, "3 -", as_master=True)  # later reads of this run count at once
    assert membership.vote(store, "h1", ALL).member
    store.write("service-start", {"started": 4000.0, "pid": 400})  # the service restarted as master
    membership.record(store, "3 -", as_master=True)
    assert not membership.vote(store, "h1", ALL).member
    membership.record(store, "3 -")  # a slave's read of the master's database counts at once
    assert membership.vote(store, "h1", ALL).member


def test_confirming_never_revives_a_copy_read_in_an_earlier_run(tmp_path):
    store = _store(tmp_path)
    membership.record(store, "1 -")
    store.write("service-start", {"started": 4000.0, "pid": 400})
    membership.confirm_master(store)
    assert not membership.vote(store, "h1", ALL).member


def test_confirming_never_revives_a_copy_a_self_fence_made_stale(tmp_path):
    store = _store(tmp_path)
    membership.record(store, "1 -", as_master=True)
    membership.invalidate(store)
    membership.confirm_master(store)
    assert not membership.vote(store, "h1", ALL).member
