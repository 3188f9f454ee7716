"""A disabled host that still runs VMs (an evacuation that stopped half-way) powers off: the master
watches it all the same (issue 13 finding 7), fences it (XVM, verified) and restarts its VMs once
elsewhere. Before, the master probed enabled hosts only and those VMs stayed Running in the database
forever."""
import harness
from harness import use_xvm, vms_on

scenario = harness.scenario_fixture()


def _disable(sc, name):
    sc.xapi(lambda x: x.host.disable(x.host.get_by_name_label(name)[0]))


def test_a_dead_disabled_host_s_vms_restart_once_elsewhere(scenario):
    sc = scenario(hosts=3, vms=6)
    use_xvm(sc)
    sc.start_supervisors()
    victims = vms_on(sc, "host3")
    assert victims
    _disable(sc, "host3")
    host3 = sc.pool.host("host3")["uuid"]

    def watched():
        report = sc.supervisor("host1").state("host-health") or {}
        return (report.get("hosts") or {}).get(host3, {}).get("health") == "healthy"
    sc.wait_until(watched, 30, interval=0.3, message="the master probes the disabled host3")

    sc.pool.fault("power-off", "host3")
    for vm in victims:
        sc.wait_vm_running(vm, 45)
    assert all(sc.vm(vm)["running_on"] != ["host3"] for vm in victims)
    # (once released, host3 runs no guest and is no longer watched: read the fence in the log)
    assert "fence of host3 verified" in sc.supervisor("host1").log()
    sc.check_final()
