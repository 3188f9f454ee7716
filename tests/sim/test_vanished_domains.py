"""xapi notices domains that vanish behind its back (issue 19 item 2), through the platform calls the
product makes (halizard/platform/sim.py: xl destroy, reboot -f) and seen by a real XenAPI client."""
import pytest

from halizard.platform import get_platform
from waiting import wait_until

NULL = "OpaqueRef:NULL"


@pytest.fixture
def pool(inproc_pool):
    return inproc_pool(hosts=3, vms=6, fuse=0.5)


def vm_uuid(pool, name):
    return [v["uuid"] for v in pool.json["vms"] if v["name_label"] == name][0]


def xapi_view(pool, name, master=None):
    """(power_state, resident_on) as the master's xapi answers them."""
    x = pool.xenapi_session(master).xenapi
    ref = x.VM.get_by_name_label(name)[0]
    return x.VM.get_power_state(ref), x.VM.get_resident_on(ref)


def on(pool, host):
    return sorted(vm["name_label"] for vm in pool.status()["vms"] if vm["running_on"] == [host])


@pytest.mark.parametrize("host", ["host1", "host2"])  # the master's own domain, and a slave's
def test_a_domain_destroyed_out_of_band_is_halted_at_once(pool, host):
    victim, bystander = on(pool, host)
    assert xapi_view(pool, victim)[0] == "Running"
    get_platform(pool.host(host)["root"]).destroy_domain(vm_uuid(pool, victim))
    assert xapi_view(pool, victim) == ("Halted", NULL)  # no wait: xenopsd's event, applied at once
    assert xapi_view(pool, bystander)[0] == "Running"
    assert pool.vm_status(victim)["resident_on"] is None


def test_a_slave_cut_from_its_master_reports_the_vanished_domain_once_it_reaches_it(pool):
    victim = on(pool, "host3")[0]
    pool.fault("cut", "host1", "host3")
    get_platform(pool.host("host3")["root"]).destroy_domain(vm_uuid(pool, victim))
    assert xapi_view(pool, victim)[0] == "Running", "the master cannot hear host3: its database is stale"
    pool.fault("heal")
    assert wait_until(lambda: xapi_view(pool, victim) == ("Halted", NULL), timeout=5)


@pytest.mark.parametrize("host", ["host1", "host3"])
def test_a_host_that_reboots_itself_resets_the_vms_resident_on_it(pool, host):
    victims = on(pool, host)
    get_platform(pool.host(host)["root"]).reboot()
    assert wait_until(lambda: all(xapi_view(pool, name) == ("Halted", NULL) for name in victims), timeout=5)
    assert pool.host_status(host)["power"] == "on" and on(pool, host) == []


def test_a_slave_booting_without_its_master_resets_its_vms_when_it_becomes_master(pool):
    """The self-fence of a slave whose master is gone, then promotion (emergency transition)."""
    victims = on(pool, "host2")
    pool.fault("power-off", "host1")
    get_platform(pool.host("host2")["root"]).reboot()
    local = pool.xenapi_session("host2", login=False)
    local.slave_local_login_with_password("root", pool.password)
    local.xenapi.pool.emergency_transition_to_master()
    assert wait_until(lambda: pool.host_status("host2")["role"] == "master" and
                      pool.host_status("host2")["xapi"] == "up", timeout=10)
    assert wait_until(lambda: all(xapi_view(pool, name, "host2") == ("Halted", NULL) for name in victims),
                      timeout=5)
