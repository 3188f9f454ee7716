"""The event-driven pool view (halizard.xapi.view, issue 16) against a simulated pool.

Each PoolWatch below is a new one over the same state file: what the next
job run (a new process) does. After every disturbance the view must equal a
full read of the pool (observe.read_snapshot).
"""
import os
import time

import pytest
from waiting import wait_until

from halizard.statefiles import StateStore
from halizard.xapi import view as view_mod
from halizard.xapi.errors import XapiError
from halizard.xapi.observe import read_snapshot
from halizard.xapi.session import connect

KEY = "XenCenter.CustomFields.ha-lizard-enabled"


@pytest.fixture
def pool(inproc_pool):
    return inproc_pool(hosts=2, vms=12, start_latency=0.05)


class ListLog:
    def __init__(self):
        self.lines = []

    def __getattr__(self, level):
        return lambda text, *args: self.lines.append((level, text.format(*args)))


def _root(pool, name):
    return next(h["root"] for h in pool.json["hosts"] if h["name_label"] == name)


def _same(watch, session):
    """The view's VMs and hosts equal a full read's (free memory aside: the view estimates it here)."""
    seen = watch.snapshot(session, KEY, free_memory=False, fresh=False).pool
    truth = read_snapshot(session, KEY).pool
    assert seen.vms == truth.vms
    assert [(h.uuid, h.enabled, h.health_field, h.is_master) for h in seen.hosts] == \
        [(h.uuid, h.enabled, h.health_field, h.is_master) for h in truth.hosts]
    assert (seen.master_uuid, seen.ha_field, seen.autopromote_uuid) == \
        (truth.master_uuid, truth.ha_field, truth.autopromote_uuid)


def _calls(pool, host="host1"):
    return dict(pool.pool.calls().get(host, {}))


def _diff(after, before):
    return {m: n - before.get(m, 0) for m, n in after.items() if n != before.get(m, 0)}


def _watch(store, log=None, ident="master"):
    return view_mod.PoolWatch(store, ident, log or ListLog())


def test_view_follows_changes_with_one_call_per_run(pool, tmp_path):
    session = connect(_root(pool, "host1"), timeout=5.0)
    store = StateStore(directory=str(tmp_path))
    first = _watch(store)
    first.refresh(session)
    assert first.last == view_mod.FULL
    x = session.xenapi
    vm = x.VM.get_by_name_label("vm003")[0]
    x.VM.add_to_other_config(vm, KEY, "true")
    x.VM.hard_shutdown(vm)
    host2 = x.host.get_by_name_label("host2")[0]
    x.host.add_to_other_config(host2, KEY, "healthy")
    before = _calls(pool)
    later = _watch(store)  # the next job run
    later.refresh(session)
    assert _diff(_calls(pool), before) == {"event.from": 1}
    assert later.last == view_mod.INCREMENTAL
    _same(later, session)
    assert later.snapshot(session, KEY, free_memory=False, fresh=False).pool.vm(x.VM.get_uuid(vm)).power_state \
        == "Halted"
    session.logout()


def test_view_converges_after_events_lost(pool, tmp_path):
    session = connect(_root(pool, "host1"), timeout=5.0)
    store = StateStore(directory=str(tmp_path))
    _watch(store).refresh(session)
    x = session.xenapi
    db = pool.pool.dbs[x.host.get_uuid(x.pool.get_master(x.pool.get_all()[0]))]
    db.kept_deletions = 2  # xapi's event history is finite: three deletions push the token out of it
    host_uuid = x.host.get_uuid(x.host.get_all()[0])
    for _ in range(3):
        x.message.destroy(x.message.create("HA-Lizard - test", "3", "Host", host_uuid, "body"))
    x.VM.hard_shutdown(x.VM.get_by_name_label("vm005")[0])
    log = ListLog()
    later = _watch(store, log)
    later.refresh(session)
    assert later.last == view_mod.FULL and "EVENTS_LOST" in later.why
    _same(later, session)
    assert _watch(store).refresh(session) and store.read(view_mod.STATE, {})["token"] == later.token
    session.logout()


@pytest.mark.parametrize("same_ident", [False, True], ids=["pool.conf-changed", "pool-record-changed"])
def test_view_converges_after_a_master_change(inproc_pool, tmp_path, same_ident):
    pool = inproc_pool(hosts=3, vms=9, start_latency=0.05)
    root3 = _root(pool, "host3")
    session = connect(root3, timeout=5.0)  # a slave's view: its calls go to the master
    store = StateStore(directory=str(tmp_path))
    ident = "fixed" if same_ident else view_mod.pool_ident(root3)
    view_mod.PoolWatch(store, ident, ListLog()).refresh(session)
    session.logout()
    pool.fault("power-off", "host1")
    local = pool.xenapi_session("host2", login=False)
    local.slave_local_login_with_password("root", pool.password)
    local.xenapi.pool.emergency_transition_to_master()
    new_master = wait_until(lambda: _try_connect(_root(pool, "host2")), 30)
    x = new_master.xenapi
    wait_until(lambda: x.host.get_name_label(x.pool.get_master(x.pool.get_all()[0])) == "host2", 30)
    x.pool.recover_slaves()
    wait_until(lambda: view_mod.pool_ident(root3) == "slave:%s" % pool.host("host2")["address"], 30)
    x.VM.hard_shutdown(x.VM.get_by_name_label("vm005")[0])
    session = wait_until(lambda: _try_connect(root3), 30)
    later = view_mod.PoolWatch(store, "fixed" if same_ident else view_mod.pool_ident(root3), ListLog())
    later.refresh(session)
    assert later.last == view_mod.FULL, later.why
    _same(later, session)
    session.logout()
    new_master.logout()


def _try_connect(root):
    try:
        session = connect(root, timeout=3.0)
        session.xenapi.pool.get_all()
        return session
    except XapiError:
        return None


def test_view_converges_after_a_xapi_restart(pool, tmp_path):
    root1 = _root(pool, "host1")
    session = connect(root1, timeout=5.0)
    store = StateStore(directory=str(tmp_path))
    _watch(store).refresh(session)
    master_uuid = next(h["uuid"] for h in pool.json["hosts"] if h["name_label"] == "host1")
    pool.pool.restart_toolstack(master_uuid)
    session.logout()
    truth = pool.pool.world.hosts[master_uuid]  # xapi answers a moment more, then is down until restart_until
    wait_until(lambda: pool.pool.clock() >= truth.restart_until, 60)
    session = wait_until(lambda: _try_connect(root1), 60)
    session.xenapi.VM.hard_shutdown(session.xenapi.VM.get_by_name_label("vm007")[0])
    later = _watch(store)
    later.refresh(session)
    _same(later, session)
    session.logout()


class _Answering:
    """A session whose event.from answers `answer(real_session)` instead of xapi's; the rest is real."""

    def __init__(self, real, answer):
        self._real = real
        self._answer = answer

    @property
    def xenapi(self):
        outer = self

        class _Event:
            def __getattr__(self, name):
                return lambda *args, timeout=None: outer._answer(outer._real, args, timeout)

        class _Api:
            def __getattr__(self, name):
                return _Event() if name == "event" else getattr(outer._real.xenapi, name)
        return _Api()


def _stored_then_changed(pool, tmp_path):
    """(session, store, stored token): a view stored, then a VM shut down behind its back."""
    session = connect(_root(pool, "host1"), timeout=5.0)
    store = StateStore(directory=str(tmp_path))
    _watch(store).refresh(session)
    x = session.xenapi
    x.VM.hard_shutdown(x.VM.get_by_name_label("vm004")[0])
    return session, store, store.read(view_mod.STATE, {})["token"]


def _hang(real, args, timeout):
    """xapi holds the call (a token from the future: nothing to answer for 30 s); the deadline ends it."""
    return real.call("event.from", list(args[0]), "%020d,%020d" % (10 ** 15, 0), 30.0, timeout=timeout)


@pytest.mark.parametrize("answer", [
    lambda real, args, timeout: "not a batch",
    lambda real, args, timeout: {"events": [{"class": "vm", "operation": "mod"}], "token": "1",
                                 "valid_ref_counts": {}},
], ids=["garbage", "no-ref"])
def test_bad_event_answer_falls_back_to_one_full_read(pool, tmp_path, answer):
    session, store, token = _stored_then_changed(pool, tmp_path)
    log = ListLog()
    bad = _watch(store, log)
    began = time.monotonic()
    before = _calls(pool)
    bad.refresh(_Answering(session, answer), timeout=1.0)
    assert time.monotonic() - began < 5.0, "bounded by the call's deadline"
    assert bad.last == view_mod.FALLBACK
    assert [level for level, _ in log.lines] == ["warning"], log.lines
    reads = _diff(_calls(pool), before)
    assert all(reads.get("%s.get_all_records" % c) == 1
               for c in ("pool", "host", "host_metrics", "VM", "VM_appliance")), reads
    _same(bad, session)
    assert store.read(view_mod.STATE, {}) == {}, "the next run starts from a fresh token, not %s" % token
    fresh = _watch(store)
    fresh.refresh(session)
    assert fresh.last == view_mod.FULL
    session.logout()


def test_a_hang_falls_back_once_and_keeps_the_token(pool, tmp_path):
    """A hung event.from reads in full once; while it keeps hanging no further heavy read (a slow master
    spiralled into timeouts when every run read in full); the kept token resumes incrementally."""
    session, store, token = _stored_then_changed(pool, tmp_path)
    log = ListLog()
    before = _calls(pool)
    began = time.monotonic()
    slow = _watch(store, log)
    slow.refresh(_Answering(session, _hang), timeout=1.0)
    assert time.monotonic() - began < 5.0, "bounded by the call's deadline"
    assert slow.last == view_mod.FALLBACK
    assert [level for level, _ in log.lines] == ["warning"], log.lines
    reads = _diff(_calls(pool), before)
    assert all(reads.get("%s.get_all_records" % c) == 1
               for c in ("pool", "host", "host_metrics", "VM", "VM_appliance")), reads
    assert store.read(view_mod.STATE, {})["token"] == token, "the token is kept"
    before = _calls(pool)
    with pytest.raises(XapiError):  # a second hang in a row: no second heavy read
        _watch(store, log).refresh(_Answering(session, _hang), timeout=1.0)
    assert not any(k.endswith("get_all_records") for k in _diff(_calls(pool), before))
    _same(slow, session)
    again = _watch(store)
    again.refresh(session)
    assert again.last == view_mod.INCREMENTAL, "the kept token resumes"
    _same(again, session)
    assert store.read(view_mod.STATE, {}).get("slow") is False
    session.logout()


def test_view_state_file_holds_trimmed_records(pool, tmp_path):
    session = connect(_root(pool, "host1"), timeout=5.0)
    store = StateStore(directory=str(tmp_path))
    _watch(store).refresh(session)
    saved = store.read(view_mod.STATE, {})
    assert set(saved["records"]) == set(view_mod.CLASSES)
    vm = next(iter(saved["records"]["vm"].values()))
    assert set(vm) <= set(view_mod.FIELDS["vm"]) and "VBDs" not in vm
    assert os.path.getsize(store.path(view_mod.STATE)) < 64 * 1024
    # the pool's other_config holds the configuration, secrets included (FENCE_PASSWD): root only
    assert os.stat(store.path(view_mod.STATE)).st_mode & 0o777 == 0o600
    session.logout()


@pytest.mark.parametrize("answer,why", [
    # a restarted xapi counts its events from scratch: the token goes backwards
    (lambda real, args, timeout: {"events": [], "token": "%020d,%020d" % (1, 0), "valid_ref_counts": {}},
     "backwards"),
    # an object xapi holds that no event brought (history lost without EVENTS_LOST)
    (lambda real, args, timeout: dict(real.call("event.from", list(args[0]), args[1], 0.0, timeout=timeout),
                                      valid_ref_counts={"vm": 10 ** 6}), "objects seen"),
], ids=["token-backwards", "count-mismatch"])
def test_view_out_of_step_reads_in_full(pool, tmp_path, answer, why):
    session = connect(_root(pool, "host1"), timeout=5.0)
    store = StateStore(directory=str(tmp_path))
    _watch(store).refresh(session)
    later = _watch(store)
    later.refresh(_Answering(session, lambda real, args, timeout: answer(real, args, timeout) if args[1]
                             else real.call("event.from", list(args[0]), "", 0.0, timeout=timeout)))
    assert later.last == view_mod.FULL and why in later.why
    _same(later, session)
    session.logout()


@pytest.mark.parametrize("content", [b"{not json", b'{"ident": "master", "token": 7, "records": {}}', b"[]"],
                         ids=["corrupt", "wrong-fields", "wrong-shape"])
def test_a_bad_state_file_means_one_full_read(pool, tmp_path, content):
    session = connect(_root(pool, "host1"), timeout=5.0)
    store = StateStore(directory=str(tmp_path))
    with open(store.path(view_mod.STATE), "wb") as handle:
        handle.write(content)
    watch = _watch(store)
    watch.refresh(session)
    assert watch.last == view_mod.FULL
    _same(watch, session)
    again = _watch(store)
    again.refresh(session)
    assert again.last == view_mod.INCREMENTAL, "the full read stored a good file"
    session.logout()


def test_a_silent_master_raises_without_a_fallback_line(pool, tmp_path):
    session = connect(_root(pool, "host1"), timeout=5.0)
    store = StateStore(directory=str(tmp_path))
    _watch(store).refresh(session)
    pool.fault("hang-xapi", "host1")
    log = ListLog()
    try:
        with pytest.raises(XapiError):
            _watch(store, log).refresh(session, timeout=1.0)
    finally:
        pool.fault("unhang-xapi", "host1")
    assert [level for level, _ in log.lines if level == "warning"] == []
    assert store.read(view_mod.STATE, {}).get("token"), "the stored view is kept for the master's return"


def test_jobs_starting_together_read_the_pool_in_full_once(pool, tmp_path):
    """Three jobs of one host with no stored view: one full event.from, the others wait for it and go on
    incrementally (three full reads of a large pool at once kept a loaded master from answering any)."""
    import threading

    store = StateStore(directory=str(tmp_path))
    full_reads, lock = [], threading.Lock()

    def slow_full(real, args, timeout):
        if args[1] == "":
            with lock:
                full_reads.append(timeout)
            time.sleep(0.5)  # the others arrive while it reads
        return real.call("event.from", *args, timeout=timeout)

    sessions = [connect(_root(pool, "host1"), timeout=5.0) for _ in range(3)]
    watches = [view_mod.PoolWatch(store, "master", ListLog(), full_timeout=8.0) for _ in sessions]
    threads = [threading.Thread(target=w.refresh, args=(_Answering(s, slow_full), 2.0))
               for w, s in zip(watches, sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(full_reads) == 1, full_reads
    assert full_reads[0] == pytest.approx(7.0), "a full read may take the run's time left, less a margin"
    assert sorted(w.last for w in watches) == [view_mod.FULL, view_mod.INCREMENTAL, view_mod.INCREMENTAL]
    for w, s in zip(watches, sessions):
        _same(w, s)
        s.logout()


@pytest.mark.parametrize("answer", [
    _hang,
    lambda real, args, timeout: "not a batch",
    lambda real, args, timeout: {"events": [], "token": "%020d,%020d" % (1, 0), "valid_ref_counts": {}},
], ids=["hang", "garbage", "token-backwards"])
def test_stored_never_reads_in_full(pool, tmp_path, answer):
    """master_watch's read (PoolWatch.stored): one event.from or nothing; a hang raises, a bad step is None,
    and neither reads the whole pool nor touches the stored view."""
    session, store, token = _stored_then_changed(pool, tmp_path)
    before = _calls(pool)
    began = time.monotonic()
    watch = _watch(store)
    if answer is _hang:
        with pytest.raises(XapiError):
            watch.stored(_Answering(session, answer), timeout=1.0)
    else:
        assert watch.stored(_Answering(session, answer), timeout=1.0) is None
    assert time.monotonic() - began < 5.0, "bounded by the call's deadline"
    assert not any(k.endswith("get_all_records") for k in _diff(_calls(pool), before))
    assert store.read(view_mod.STATE, {})["token"] == token
    good = _watch(store).stored(session, timeout=5.0)
    assert good is not None and store.read(view_mod.STATE, {})["token"] != token, "the step is stored"
    assert _watch(StateStore(directory=str(tmp_path / "none"))).stored(session) is None, "no view: None"
    session.logout()


def test_a_failed_first_read_is_not_repeated_by_the_jobs_that_waited_for_it(pool, tmp_path):
    """Failed before: when the one full read of a host with no view timed out, each job queued behind it
    made the same heavy read at once, on the same loaded master (the 64 x 1,000 start doubled its load)."""
    import threading

    store = StateStore(directory=str(tmp_path))
    full_reads, lock = [], threading.Lock()

    def hung_full(real, args, timeout):
        if args[1] == "":
            with lock:
                full_reads.append(timeout)
            return _hang(real, args, timeout)
        return real.call("event.from", *args, timeout=timeout)

    sessions = [connect(_root(pool, "host1"), timeout=5.0) for _ in range(2)]
    watches = [view_mod.PoolWatch(store, "master", ListLog(), full_timeout=2.0) for _ in sessions]
    errors = []

    def refresh(watch, session):
        try:
            watch.refresh(_Answering(session, hung_full), 1.0)
        except XapiError as exc:
            errors.append(exc)
    threads = [threading.Thread(target=refresh, args=pair) for pair in zip(watches, sessions)]
    threads[0].start()
    wait_until(lambda: full_reads, 10, message="the first job's full read")
    threads[1].start()  # it queues behind the first, whose read hangs
    for thread in threads:
        thread.join(30)
    assert len(full_reads) == 1, full_reads
    assert len(errors) == 2 and any("while this one waited" in str(e) for e in errors), errors
    later = _watch(store)
    later.refresh(sessions[0])  # the next run reads again
    assert later.last == view_mod.FULL
    for session in sessions:
        session.logout()
