"""A master lost while a re-admission is pending (issue 14): the survivors still recover.

3 hosts, POOL fencing (death proven only by the timed wait with a strict majority). The takeover
slave (the smallest uuid) powers off, its VMs restart and the master excludes it; it powers on again
with its service stopped, so it never reads the membership: the master re-admits it and the change
stays pending (joint) for as long as the master lives. The master powers off. The only host that
could end the joint rule is dead; under it the last slave counted 1 of the old 2 voters, a tie POOL
fencing never settles, and the returned host (first by uuid, but without a vote) was the takeover
slave: no takeover, the master's VMs down for good. Now a single re-admission pending counts the new
voters (2 of 3) and a returned host ranks last as the takeover slave (core.membership).
"""
import pytest

import harness
from harness import masters, vms_on, wait_master, wait_takeover_slave
from test_membership_cascade import copy_of, membership, uuid
from test_witness_2host import SHORT, _wait

scenario = harness.scenario_fixture()


@pytest.mark.timeout(480)
def test_master_lost_while_a_readmission_is_pending(scenario):
    sc = scenario(hosts=3, vms=6, config=SHORT)
    sc.start_supervisors()
    wait = _wait(SHORT) + 60
    old = sc.pool.master_name()
    back = wait_takeover_slave(sc)  # the smallest uuid: by uuid alone it would stay the takeover slave
    last = next(h["name_label"] for h in sc.pool.hosts if h["name_label"] not in (old, back))

    first = vms_on(sc, back)
    sc.pool.fault("power-off", back)
    sc.supervisor(back).stop()  # no service after the power-on: it never reads its re-admission
    for vm in first:
        sc.wait_vm_running(vm, wait)
    sc.wait_until(lambda: membership(sc).excluded == {uuid(sc, back)} and membership(sc).joint is None, 60,
                  interval=0.3, message="the master excluding %s, acknowledged" % back)

    sc.pool.fault("power-on", back)
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

    # the returned host's service starts: it reads the membership, acknowledges, and the change ends
    sc.start_supervisors([back])
    sc.wait_until(lambda: membership(sc).joint is None and membership(sc).excluded == {uuid(sc, old)}, 60,
                  interval=0.5, message="%s acknowledging; the change acknowledged by every voter" % back)
    assert masters(sc) == [last]
    sc.stays(lambda: not sc.status()["violations"], 5, interval=0.5, message="no VM runs twice")
    sc.check_final()
