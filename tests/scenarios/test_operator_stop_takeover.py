"""An operator stop survives a takeover (issue 13 finding 10): the master keeps the intent in the VM's
other_config (`ha-lizard-operator-stop`), so the new master leaves the VM halted, and the key goes away
once the operator starts the VM again. Before, the intent lived only in the old master's state file and
the new master started the VM."""
import harness
from harness import use_xvm, vms_on
from harness import wait_master, wait_takeover_slave

scenario = harness.scenario_fixture()
KEY = "ha-lizard-operator-stop"


def test_an_operator_stop_outlives_the_master_that_saw_it(scenario):
    sc = scenario(hosts=3, vms=6)
    use_xvm(sc)
    sc.start_supervisors()
    winner = wait_takeover_slave(sc)
    stopped = vms_on(sc, winner)[0]
    old = sc.pool.master_name()
    victims = vms_on(sc, old)
    sc.wait_until(lambda: sc.vm_record(stopped)["other_config"].get("home-pool"), 30, interval=0.3,
                  message="home-pool stamped")
    # an operator stop is told from a crash by the shutdown operation the event stream shows:
    # the master must be watching before the operator acts
    sc.wait_watching(old)

    sc.operator_shutdown(stopped)
    sc.wait_until(lambda: sc.vm_record(stopped)["other_config"].get(KEY) == "true", 20, interval=0.2,
                  message="the operator stop kept in XAPI")

    sc.pool.fault("power-off", old)
    wait_master(sc, winner, 60)
    for vm in victims:
        sc.wait_vm_running(vm, 60)
    # the new master's sweeps (MONITOR_DELAY) and its event watch had their chance
    sc.stays(lambda: sc.vm(stopped)["power_state"] == "Halted", 3 * harness.DEFAULT_CONFIG["MONITOR_DELAY"],
             message="%s halted after the takeover" % stopped)

    # (the harness's own calls go to the old master by default: ask the new one)
    sc.xapi(lambda x: x.VM.start(sc.vm_ref(x, stopped), False, False), host=winner)
    sc.wait_until(lambda: KEY not in sc.xapi(lambda x: x.VM.get_other_config(sc.vm_ref(x, stopped)), host=winner),
                  30, interval=0.3, message="the operator stop cleared once the VM runs")
    sc.check_final()
