"""A host comes back after its VMs were recovered elsewhere, holding a paused leftover domain of one of
them: the zombies job on that host destroys it, nothing ever ran twice.

Why paused: once the pool restarted a host's VMs, that host either was powered off by a verified fence or
destroyed its own domains (self-fence), so it cannot come back with a domain that still runs guest code;
if it could, that would be a double run and the simulator says so. What a returning host can hold is
the paused remnant of an operation cut off on it (xenopsd builds every domain paused and unpauses it
last; a live migration's source stays paused in its last step): it exists, holds the VM's disks and is
listed by `xl list`, but runs no guest code. Unpausing it beside the running copy would be a double run,
which the in-process test at the end checks the simulator records.
"""
import pytest

from harness import host_health, use_xvm, vms_on, wait_moved

from halizard.sim.pool import SimPool, SimUsageError
from halizard.sim.spec import PoolSpec

@pytest.mark.timeout(300)  # a fence, a recovery and a rejoin: slow on a loaded machine
def test_returning_host_has_its_paused_leftover_destroyed(scenario):
    sc = scenario(hosts=3, vms=6)
    use_xvm(sc)
    sc.start_supervisors()
    sc.wait_until(lambda: host_health(sc, "host2") == "healthy", 30, interval=0.3,
                  message="the master marks host2 healthy")
    victims = vms_on(sc, "host2")
    assert victims

    sc.pool.fault("link-down", "host2")  # cut off: detected, fenced through the outer dom0, VMs restarted
    wait_moved(sc, victims, "host2", 45)
    assert sc.pool.host_status("host2")["power"] == "off", "host2 was fenced"

    sc.pool.fault("link-up", "host2")
    sc.pool.fault("power-on", "host2")
    sc.wait_until(lambda: host_health(sc, "host2") == "healthy", 40, interval=0.3,
                  message="host2 back and healthy")
    # its service started afresh at power-on and first finishes the self-fence it had begun when cut off
    # (its state is on disk): that also destroys every local domain, so the leftover comes after it
    sc.wait_until(lambda: not (sc.supervisor("host2").state("self-fence") or {}).get("stopping_since"), 30,
                  interval=0.3, message="host2's self-fence over")

    zombie = victims[0]
    elsewhere = sc.vm(zombie)["running_on"]
    # the remnant of a start cut off on host2 as it rejoined: a paused domain XAPI places nowhere here
    sc.pool.fault("leave-paused", zombie, "host2")
    destroyed = "zombie domain of %s destroyed" % sc.vm(zombie)["uuid"]
    # paused, beside the running copy; host2's zombies job may already have destroyed it (then it logs so)
    vm = sc.wait_until(lambda: (sc.vm(zombie)["paused_on"] == ["host2"] or destroyed in sc.supervisor("host2").log())
                       and sc.vm(zombie), 10, interval=0.2, message="the leftover of %s seen" % zombie)
    assert vm["running_on"] == elsewhere, vm
    assert sc.status()["violations"] == []

    # the zombies job runs every MONITOR_DELAY (3 s); 20 s leaves room for a loaded machine
    sc.wait_until(lambda: sc.vm(zombie)["paused_on"] == [], 20, interval=0.2,
                  message="the paused leftover of %s on host2 destroyed" % zombie)
    assert sc.vm(zombie)["running_on"] == elsewhere, "the running copy is untouched"
    sc.wait_until(lambda: destroyed in sc.supervisor("host2").log(), 10, interval=0.2,
                  message="host2's zombies job logging the destruction")
    status = sc.check_final()
    assert all(vm["paused_on"] == [] for vm in status["vms"]), status["vms"]


def test_paused_domain_is_no_double_run_until_unpaused(tmp_path):
    """Ground truth: a paused domain beside a running copy is allowed; unpausing it is a double run."""
    pool = SimPool(PoolSpec.simple(2, 2, "127.77.0", str(tmp_path), start_latency=0.05))
    vm = pool.vm_by_name["vm001"]
    home = pool.world.running_on(vm)[0]
    other = [h for h in pool.host_uuids if h != home][0]
    pool.fault("leave-paused", ["vm001", pool.world.hosts[other].name_label])
    assert vm in pool.local_domains(other), "xl list shows the paused domain"
    assert pool.world.paused_on(vm) == [other] and pool.world.running_on(vm) == [home]
    assert pool.status()["violations"] == []
    pool.destroy_domain(other, vm)  # what the zombies job does through the platform layer
    assert pool.world.paused_on(vm) == [] and pool.world.running_on(vm) == [home]
    assert pool.status()["violations"] == [] and vm not in pool.world.lost_since

    pool.fault("leave-paused", ["vm001", pool.world.hosts[other].name_label])
    pool.fault("unpause-vm", ["vm001"])
    violations = pool.status()["violations"]
    assert len(violations) == 1 and "vm001 running on" in violations[0], violations


def test_powered_off_host_cannot_reboot_itself_on(tmp_path):
    """A `reboot -f` request that arrives once the host is off (sent just before the power loss) does nothing."""
    pool = SimPool(PoolSpec.simple(2, 1, "127.77.1", str(tmp_path), start_latency=0.05))
    host2 = pool.host_by_name["host2"]
    pool.fault("power-off", ["host2"])
    with pytest.raises(SimUsageError, match="powered off"):
        pool.reboot_host(host2)
    assert pool.world.hosts[host2].power == "off"
