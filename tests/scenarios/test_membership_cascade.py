"""Last man standing (issue 14): 3 hosts, a slave powers off, then the master powers off; the last
host becomes master and every VM runs once. The dead hosts leave the vote count (pool other_config
`ha-lizard-membership`, one epoch per change). Then both power on again: they are re-admitted, and
no VM runs twice."""
import pytest

import harness
from harness import use_xvm, vms_on
from harness import masters, wait_master, wait_takeover_slave
from test_witness_2host import SHORT, _wait

from halizard.core import membership as rule

scenario = harness.scenario_fixture()

KEY = "ha-lizard-membership"


def membership(sc, host=None):
    """The membership in `host`'s database, by default the current master's. While a returned old
    master still answers as master too, name the host: the default then reads the first master the
    simulator lists, which may be the stale one."""
    def read(x):
        return rule.parse((x.pool.get_other_config(x.pool.get_all()[0]) or {}).get(KEY, ""))
    current = masters(sc)
    return sc.xapi(read, host=host or (current[0] if len(current) == 1 else None))


def uuid(sc, name):
    return sc.pool.host(name)["uuid"]


def copy_of(sc, name):
    """The membership copy host `name` judges its quorum from (jobs.membership)."""
    return rule.parse((sc.supervisor(name).state("membership") or {}).get("text"))


def _cascade(sc, wait=90):
    """Power off the slave that is not the takeover slave, then the master; returns (last, dead)."""
    old = sc.pool.master_name()
    last = wait_takeover_slave(sc)
    slave = next(h["name_label"] for h in sc.pool.hosts if h["name_label"] not in (old, last))
    first = vms_on(sc, slave)
    sc.pool.fault("power-off", slave)
    for vm in first:
        sc.wait_vm_running(vm, wait)
    sc.wait_until(lambda: membership(sc) == rule.Membership(1, frozenset({uuid(sc, slave)})), 30, interval=0.3,
                  message="the master excluding %s, acknowledged by every voter" % slave)
    sc.wait_until(lambda: copy_of(sc, last) == membership(sc), 30, interval=0.3,
                  message="%s reading the acknowledged membership" % last)
    second = vms_on(sc, old)
    sc.pool.fault("power-off", old)
    wait_master(sc, last, wait + 30)
    for vm in second:
        sc.wait_vm_running(vm, wait, where=last)
    sc.wait_until(lambda: membership(sc).excluded == {uuid(sc, slave), uuid(sc, old)}, 30, interval=0.3,
                  message="the new master excluding the old one")
    sc.check_final()
    return last, (old, slave)


@pytest.mark.timeout(420)
@pytest.mark.slow
def test_cascade_with_a_verified_fence_then_both_return(scenario):
    sc = scenario(hosts=3, vms=6)
    use_xvm(sc)
    sc.start_supervisors()
    last, dead = _cascade(sc)
    log = sc.supervisor(last).log()
    assert "fence race" in log, "the last two hosts were an exact tie settled by the fence race"
    epoch = membership(sc).epoch
    sc.pool.fault("power-on", *dead)  # the old master answers as master too until it is recovered
    sc.wait_until(lambda: not membership(sc, last).excluded, 120, interval=0.5,
                  message="the returned hosts re-admitted")
    assert membership(sc, last).epoch > epoch
    for name in dead:
        sc.wait_until(lambda name=name: copy_of(sc, name).excluded == frozenset(), 60, interval=0.5,
                      message="%s reading its re-admission" % name)
    assert masters(sc) == [last]
    sc.stays(lambda: not sc.status()["violations"], 5, interval=0.5, message="no VM runs twice")
    sc.check_final()


@pytest.mark.timeout(480)
@pytest.mark.slow
def test_cascade_with_pool_fencing_and_a_witness_after_the_wait(scenario):
    """POOL fencing proves death only by the timed wait with a strict majority. After the first
    exclusion the last two hosts are 1 of 2 each, a tie nothing can settle without a fence, so the
    witness's vote makes the survivor 2 of 3 (voters and the witness)."""
    sc = scenario(hosts=3, vms=6, config=SHORT, up_args=["--witness"])
    entry = sc.pool.json["witness"]
    sc.set_config(WITNESS_ADDRESS="%s:%d" % (entry["address"], entry["port"]), WITNESS_SECRET=entry["secret"])
    sc.start_supervisors()
    # The witness's vote counts only on the host that holds the lease (not for its whole side): if the
    # slave that stays up held it, the master would count 2 of 4 and could not recover the first dead
    # slave. Known limit (docs/membership.md); the master takes the lease first here.
    master = sc.pool.master_name()
    others = [h["name_label"] for h in sc.pool.hosts if h["name_label"] != master]
    if not _holds(sc, master):
        for name in others:
            sc.pool.fault("cut", name, "witness")
        sc.wait_until(lambda: _holds(sc, master), 30, interval=0.2, message="the master holding the lease")
        sc.pool.fault("heal")
    _cascade(sc, wait=_wait(SHORT) + 60)


def _holds(sc, name):
    lease = sc.supervisor(name).state("witness-lease") or {}
    return lease.get("held_until") is not None and lease.get("holder") == uuid(sc, name)
