"""The old master powers on again after a takeover: it still believes it is master of its own
(stale) database. The new master notices a host of its database that answers as master and calls
pool.recover_slaves again, so the old master becomes its slave; meanwhile the old master starts
nothing (its database says its VMs are halted, but they run elsewhere now)."""
from harness import use_xvm, vms_on
from harness import masters, pool_conf, wait_master, wait_takeover_slave

def test_old_master_powered_on_after_takeover_becomes_a_slave_of_the_new_master(scenario):
    sc = scenario(hosts=3, vms=6)
    use_xvm(sc)
    sc.start_supervisors()
    old = sc.pool.master_name()
    winner = wait_takeover_slave(sc)
    victims = vms_on(sc, old)
    assert victims

    sc.pool.fault("power-off", old)
    wait_master(sc, winner, 60)
    for vm in victims:
        sc.wait_vm_running(vm, 60)

    sc.pool.fault("power-on", old)
    new_address = sc.pool.host(winner)["address"]
    # The new master probes every MONITOR_DELAY (3 s); a probe round, recover_slaves and the old
    # master's restart as a slave take seconds each: 60 s is many cycles even on a loaded machine.
    sc.wait_until(lambda: masters(sc) == [winner] and pool_conf(sc, old) == "slave:" + new_address, 60,
                  interval=0.3, message="%s a slave of %s" % (old, winner))
    assert "pool.recover_slaves" in sc.supervisor(winner).log()
    # Several more cycles of every host (the old one now reads its new master): nothing starts twice.
    sc.stays(lambda: sc.status()["violations"] == [], 6, message="no violation")
    sc.check_final()
