"""A host back from the dead is never the one the pool waits for (issue 14; seen in `make demo`).

3 hosts, XVM fencing. The slave with the smallest uuid (the takeover slave by rank) powers off; the
master fences it, restarts its VMs and excludes it. The other slave never reads that exclusion (its
service runs without `pool_state`, the job that reads the membership: as when the master dies before
its next cycle). The dead host powers on, its service starts again (without `pool_state`: its copy of
the membership stays the one from before its power-off, so it has no vote and never acts), and the
master powers off. The other slave's copy ranks the returned host first by uuid: it waited for it for
ever. Now the returned host answers the peer query that it has no vote, so the other slave takes
over, and every VM runs once.
"""
import pytest

import harness
from harness import use_xvm, vms_on, wait_master, wait_takeover_slave
from test_membership_cascade import membership, uuid
from test_membership_pending import start_without_acks

scenario = harness.scenario_fixture()


@pytest.mark.timeout(300)
def test_a_returned_host_without_a_vote_is_skipped_as_the_takeover_slave(scenario):
    sc = scenario(hosts=3, vms=6)
    use_xvm(sc)
    old = sc.pool.master_name()
    slaves = sorted((h["uuid"], h["name_label"]) for h in sc.pool.hosts if h["name_label"] != old)
    back, other = slaves[0][1], slaves[1][1]  # the takeover slave by rank, and the one that takes over
    sc.start_supervisors([old, back])
    start_without_acks(sc, other)
    assert wait_takeover_slave(sc) == back

    first = vms_on(sc, back)
    sc.pool.fault("power-off", back)
    sc.supervisor(back).stop()
    for vm in first:
        sc.wait_vm_running(vm, 60)
    sc.wait_until(lambda: membership(sc).excluded == {uuid(sc, back)}, 60, interval=0.3,
                  message="the master excluding %s" % back)

    sc.pool.fault("power-on", back)
    start_without_acks(sc, back)  # its copy (from before the power-off) gives it no vote
    second = vms_on(sc, old)
    sc.pool.fault("power-off", old)
    wait_master(sc, other, 90)
    assert "has no vote" in sc.supervisor(other).log()
    for vm in second:
        sc.wait_vm_running(vm, 60)
    sc.check_final()
