"""A master lost while a re-admission is pending (issue 14): the survivors still recover.

3 hosts, POOL fencing (death proven only by the timed wait with a strict majority). The takeover
slave (the smallest uuid) powers off, its VMs restart and the master excludes it; it powers on again
with its service running without `pool_state` (the one job that acknowledges a membership): the
master re-admits it and the change stays pending (joint) for as long as the master lives, while the
returned host still answers the peer query (the `witness` loop job; a host that answers nothing
would hold the takeover: unknown is not dead, core.peers). The master powers off. The only host that
could end the joint rule is dead; under it the last slave counted 1 of the old 2 voters, a tie POOL
fencing never settles, and the returned host (first by uuid, but without a vote) was the takeover
slave: no takeover, the master's VMs down for good. Now a single re-admission pending counts the new
voters (2 of 3) and a returned host ranks last as the takeover slave (core.membership).
"""
import json
import os

import pytest

import harness
from harness import Supervisor, masters, vms_on, wait_master, wait_takeover_slave
from test_membership_cascade import copy_of, membership, uuid
from test_witness_2host import SHORT, _wait

scenario = harness.scenario_fixture()


def start_without_acks(sc, name):
    """`name`'s service with every production job but pool_state: it never acknowledges a membership."""
    from halizard.jobs import JOBS

    jobs_file = os.path.join(sc.host_root(name), "no-acks-jobs.json")
    with open(jobs_file, "w", encoding="utf-8") as handle:
        json.dump({"replace": True, "jobs": {n: spec for n, spec in JOBS.items() if n != "pool_state"}}, handle)
    sup = Supervisor(name, sc.host_root(name), dict(sc.env_for(name), HALIZARD_JOBS=jobs_file), sc.pool.json)
    sc.supervisors[name] = sup
    return sup.start()


@pytest.mark.timeout(480)
@pytest.mark.slow
def test_master_lost_while_a_readmission_is_pending(scenario):
    sc = scenario(hosts=3, vms=6, config=SHORT)
    sc.start_supervisors()
    wait = _wait(SHORT) + 60
    old = sc.pool.master_name()
    back = wait_takeover_slave(sc)  # the smallest uuid: by uuid alone it would stay the takeover slave
    last = next(h["name_label"] for h in sc.pool.hosts if h["name_label"] not in (old, back))

    first = vms_on(sc, back)
    sc.pool.fault("power-off", back)
    sc.supervisor(back).stop()  # its service comes back below, without the job that acknowledges
    for vm in first:
        sc.wait_vm_running(vm, wait)
    sc.wait_until(lambda: membership(sc).excluded == {uuid(sc, back)} and membership(sc).joint is None, 60,
                  interval=0.3, message="the master excluding %s, acknowledged" % back)

    sc.pool.fault("power-on", back)
    start_without_acks(sc, back)
    sc.wait_until(lambda: not membership(sc).excluded, 90, interval=0.3, message="%s re-admitted" % back)
    pending = membership(sc)
    assert pending.joint == {uuid(sc, back)}, pending
    sc.wait_until(lambda: copy_of(sc, last) == membership(sc), 30, interval=0.3,
                  message="%s reading the pending re-admission" % last)
    assert membership(sc).joint is not None  # nobody but the master could end it

    second = vms_on(sc, old)
    sc.pool.fault("power-off", old)
    wait_master(sc, last, wait + 30)
    for vm in second:
        sc.wait_vm_running(vm, wait)  # on the new master or on the returned host
    sc.wait_until(lambda: uuid(sc, old) in membership(sc).excluded, 30, interval=0.3,
                  message="the new master excluding the old one")
    sc.check_final()

    # the returned host's whole service starts: it acknowledges, and the change ends
    sc.supervisor(back).stop()
    sc.start_supervisors([back])
    sc.wait_until(lambda: membership(sc).joint is None and membership(sc).excluded == {uuid(sc, old)}, 60,
                  interval=0.5, message="%s acknowledging; the change acknowledged by every voter" % back)
    assert masters(sc) == [last]
    sc.stays(lambda: not sc.status()["violations"], 5, interval=0.5, message="no VM runs twice")
    sc.check_final()
