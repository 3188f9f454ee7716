"""A 2-host pool whose master powers off: the slave holds quorum only by the heuristic tie-break,
so it waits XE_TIMEOUT + MONITOR_DELAY (the master's own fence would land first in a true split),
then fences the master (XVM, verified) and takes over."""
import time

from harness import TIE_DELAY, use_xvm, vms_on
from harness import wait_master, wait_takeover_slave

def test_two_host_pool_master_dies_slave_takes_over_after_the_tie_delay(scenario):
    sc = scenario(hosts=2, vms=4)
    slave = next(h for h in sc.pool.hosts if h["name_label"] != sc.pool.master_name())
    # A heuristic address only the surviving side reaches (loopback; pings answer).
    sc.set_config(FENCE_HEURISTICS_IPS=slave["address"], FENCE_USE_IP_HEURISTICS=1)
    use_xvm(sc)
    sc.start_supervisors()
    old = sc.pool.master_name()
    winner = wait_takeover_slave(sc)
    assert winner == slave["name_label"]
    victims = vms_on(sc, old)

    cut = time.monotonic()
    sc.pool.fault("power-off", old)
    wait_master(sc, winner, 90)
    assert time.monotonic() - cut >= TIE_DELAY, "the tie-break fence delay (XE_TIMEOUT + MONITOR_DELAY) was skipped"
    log = sc.supervisor(winner).log()
    assert "tie-break fence delay" in log and "the master's fence verified" in log
    for vm in victims:
        sc.wait_vm_running(vm, 60)
    sc.check_final()
