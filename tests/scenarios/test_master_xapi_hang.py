"""The master's xapi hangs (its network still answers): the takeover slave cannot prove it dead by
waiting, so it fences it (XVM, verified off), promotes itself and restarts the old master's VMs."""
from harness import use_xvm, vms_on
from harness import wait_master, wait_takeover_slave

def test_master_xapi_hang_is_fenced_and_taken_over(scenario):
    # A hung master costs whole XE_TIMEOUTs per try: give the cycle room before the monitor kills it.
    sc = scenario(hosts=3, vms=6, config={"MONITOR_MAX_STARTS": 60})
    use_xvm(sc)
    sc.start_supervisors()
    old = sc.pool.master_name()
    winner = wait_takeover_slave(sc)
    victims = vms_on(sc, old)

    sc.pool.fault("hang-xapi", old)
    wait_master(sc, winner, 90)
    for vm in victims:
        sc.wait_vm_running(vm, 60)
    assert sc.pool.host_status(old)["power"] == "off", "the hung master must be fenced before the takeover"
    assert "the master's fence verified" in sc.supervisor(winner).log()
    sc.check_final()
