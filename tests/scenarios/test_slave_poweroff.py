"""A slave powers off: the master detects it, fences it (XVM, verified), releases and restarts its VMs.

Along the way ha-cfg runs on the master and a slave; at the end no password crossed plain HTTP and
no host root holds the pool password (every login went through the hosts' xapi sockets, XVM's over
HTTPS).
"""
import harness
from harness import assert_no_password_in_clear, host_health, use_xvm, vms_on

def test_slave_power_off_is_fenced_and_its_vms_restart_elsewhere(scenario):
    sc = scenario(hosts=3, vms=6)
    use_xvm(sc)
    sc.start_supervisors()
    harness.wait_until(lambda: host_health(sc, "host3") == "healthy", 30, interval=0.3,
                       message="the master marks host3 healthy")
    for host in ("host1", "host2"):
        for args in (("get",), ("get", "--effective"), ("set", "MAIL_ON", "0"), ("get-vm-ha",),
                     ("ha-status",), ("show-alerts",)):
            done = sc.ha_cfg(host, *args)
            assert done.returncode == 0, (host, args, done.stderr)
    victims = vms_on(sc, "host3")
    assert victims

    sc.pool.fault("power-off", "host3")
    for vm in victims:
        sc.wait_vm_running(vm, 45)
    assert host_health(sc, "host3") == "failed"
    report = sc.supervisor("host1").state("host-health")
    assert "fenced" in report["hosts"][sc.pool.host("host3")["uuid"]]["decision"], report
    assert_no_password_in_clear(sc)
    sc.check_final()
