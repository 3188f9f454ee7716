"""The master powers off: the takeover slave fences it (XVM), promotes itself, recovers the other
slaves and restarts the old master's VMs; then it names a new takeover slave."""
import time

import harness
from harness import assert_no_password_in_clear, use_xvm, vms_on
from harness import autopromote, masters, name_of, pool_conf, wait_master, wait_takeover_slave

def test_master_power_off_is_taken_over_by_the_takeover_slave(scenario):
    sc = scenario(hosts=3, vms=6)
    use_xvm(sc)
    sc.start_supervisors()
    old = sc.pool.master_name()
    winner = wait_takeover_slave(sc)
    other = next(h["name_label"] for h in sc.pool.hosts if h["name_label"] not in (old, winner))
    victims = vms_on(sc, old)
    assert victims

    sc.pool.fault("power-off", old)
    wait_master(sc, winner, 60)
    promoted = time.time()
    for vm in victims:
        sc.wait_vm_running(vm, 60)
    assert sc.pool.host_status(old)["power"] == "off"
    new_address = sc.pool.host(winner)["address"]
    harness.wait_until(lambda: pool_conf(sc, other) == "slave:" + new_address, 30, interval=0.3,
                       message="%s following the new master" % other)

    def watches_new_master():
        report = sc.supervisor(other).state("master-watch", {}) or {}
        return report.get("master") == "answers" and report.get("at", 0) > promoted
    harness.wait_until(watches_new_master, 30, interval=0.3, message="%s reading the new master" % other)
    harness.wait_until(lambda: name_of(sc, autopromote(sc)) == other, 40, interval=0.5,
                       message="the new master naming %s its takeover slave" % other)
    assert masters(sc) == [winner]
    assert (sc.supervisor(winner).state("takeover", {}) or {}).get("phase") in ("done", "idle")
    assert_no_password_in_clear(sc)   # the takeover went through the new master's own socket
    sc.check_final()
