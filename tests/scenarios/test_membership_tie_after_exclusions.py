"""Issue 14's fault schedule: 4 hosts with XVM fencing; the pool fences two slaves off one after the
other (both excluded, each exclusion acknowledged), then the master loses its link for 5 s. The two
remaining hosts are a 1|1 tie of the new membership, settled by the fence race: exactly one side
runs every VM afterwards, and no VM is left down."""
import time

import pytest

import harness
from harness import use_xvm, vms_on
from harness import masters, wait_takeover_slave
from test_membership_cascade import copy_of, membership, uuid

from halizard.core import membership as rule

scenario = harness.scenario_fixture()


@pytest.mark.timeout(420)
def test_tie_after_two_exclusions_is_settled_by_the_fence_race(scenario):
    sc = scenario(hosts=4, vms=8)
    use_xvm(sc)
    sc.start_supervisors()
    master = sc.pool.master_name()
    last = wait_takeover_slave(sc)
    gone = [h["name_label"] for h in sc.pool.hosts if h["name_label"] not in (master, last)]
    for name in gone:
        victims = vms_on(sc, name)
        sc.pool.fault("power-off", name)
        for vm in victims:
            sc.wait_vm_running(vm, 90)
        sc.wait_until(lambda name=name: uuid(sc, name) in membership(sc).excluded and membership(sc).joint is None,
                      40, interval=0.3, message="%s excluded and acknowledged" % name)
    want = rule.Membership(membership(sc).epoch, frozenset(uuid(sc, n) for n in gone))
    sc.wait_until(lambda: copy_of(sc, last) == want, 30, interval=0.3, message="%s reading it" % last)
    sc.pool.fault("link-down", master)
    time.sleep(5)  # the fault itself lasts 5 s (the schedule), not a wait for a condition
    sc.pool.fault("link-up", master)
    on = [h["name_label"] for h in sc.status()["hosts"] if h["power"] == "on"]
    sc.wait_until(lambda: len([h for h in sc.status()["hosts"] if h["power"] == "on"]) == 1 or
                  (len(masters(sc)) == 1 and all(len(v["running_on"]) == 1 for v in sc.status()["vms"])),
                  120, interval=0.5, message="one side left running every VM (up: %s)" % on)
    sc.wait_until(lambda: all(len(v["running_on"]) == 1 for v in sc.status()["vms"]), 120, interval=0.5,
                  message="every VM running once")
    assert len(masters(sc)) == 1
    sc.check_final()
