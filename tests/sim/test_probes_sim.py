"""Probes against a simulated pool: they see power-off, partitions and a hung xapi,
from the probing host's own address, exactly as a peer host would."""
import time

from halizard.platform import get_platform
from halizard.probes.parallel import Round, probe_hosts


def _round(pool, from_name, targets, tries=2, delay=0.2, try_timeout=1.0):
    platform = get_platform(pool.host(from_name)["root"])
    hosts = [(pool.host(name)["uuid"], pool.host(name)["address"]) for name in targets]
    results = probe_hosts(platform, hosts, Round(tries, delay, try_timeout))
    return {name: results[pool.host(name)["uuid"]] for name in targets}


def test_probes_see_power_off_partition_and_hung_xapi(inproc_pool):
    pool = inproc_pool(hosts=4, vms=0)
    master = pool.master_name()
    others = [h["name_label"] for h in pool.hosts if h["name_label"] != master]
    a, b, c = others

    healthy = _round(pool, master, others)
    assert all(p.xapi_ok and p.network_ok and p.tries == 1 for p in healthy.values())
    assert {p.xapi_state for p in healthy.values()} == {"slave"}
    from_slave = _round(pool, a, [master])[master]
    assert from_slave.xapi_ok and from_slave.xapi_state == "master"

    pool.fault("power-off", a)
    pool.fault("hang-xapi", b)
    started = time.monotonic()
    seen = _round(pool, master, others)
    took = time.monotonic() - started
    assert not seen[a].xapi_ok and seen[a].network_ok is False and seen[a].tries == 2
    assert not seen[b].xapi_ok and seen[b].network_ok is True and seen[b].xapi_state == "timeout"
    assert seen[c].xapi_ok
    assert took < 2 * (2 * 1.0 + 0.2), "rounds must run in parallel (took %.1fs)" % took

    pool.fault("power-on", a)
    pool.fault("unhang-xapi", b)
    pool.fault("partition", master, ",".join(others))
    cut = _round(pool, master, others, tries=1)
    assert all(not p.xapi_ok and p.network_ok is False for p in cut.values())
    inside = _round(pool, b, [c], tries=1)[c]
    assert inside.network_ok is True

    pool.fault("heal")
    assert all(p.network_ok for p in _round(pool, master, others, tries=1).values())


def test_the_network_answers_while_the_database_is_busy(inproc_pool):
    # failed before: every probe took the pool's lock, so a long read under it (a 64-host pool's
    # first event.from copies thousands of records) left every host's probes unanswered and the
    # whole pool lost quorum at once
    import threading

    from halizard.probes import sweep
    from halizard.probes.deadline import after

    pool = inproc_pool(hosts=3, vms=0)
    master = pool.master_name()
    platform = get_platform(pool.host(master)["root"])
    others = [h for h in pool.hosts if h["name_label"] != master]
    held, release = threading.Event(), threading.Event()

    def long_read():
        with pool.pool._lock:
            held.set()
            release.wait(10)
    threading.Thread(target=long_read, daemon=True).start()
    assert held.wait(5)
    try:
        got = sweep.probe_all([(h["name_label"], platform.probe_target(h["address"])) for h in others],
                              after(1.0), platform.source_address())
    finally:
        release.set()
    assert all(r.ok for r in got.values()), got


def test_xapi_state_is_read_without_the_database_lock_when_nothing_is_due(inproc_pool):
    # failed before: every request asked xapi_state two or three times under the pool's one lock;
    # at 64 hosts 1,400 request threads queued there and the master looked dead to its slaves
    import threading

    pool = inproc_pool(hosts=2, vms=0)
    sim, master = pool.pool, pool.host(pool.master_name())["uuid"]
    held, release, seen = threading.Event(), threading.Event(), []

    def long_read():
        with sim._lock:
            held.set()
            release.wait(10)
    threading.Thread(target=long_read, daemon=True).start()
    assert held.wait(5)
    reader = threading.Thread(target=lambda: seen.append(sim.xapi_state(master)), daemon=True)
    reader.start()
    reader.join(1.0)
    release.set()
    assert seen == ["up"]
    pool.fault("hang-xapi", pool.master_name())
    assert sim.xapi_state(master) == "hung"
