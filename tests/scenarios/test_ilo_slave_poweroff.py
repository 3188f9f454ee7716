"""A slave powers off with FENCE_METHOD=ILO: the master fences it through its simulated BMC
(real ipmitool, IPMI lanplus, power read back), releases it and restarts its VMs; no violation.

Also the ILO set-up the other ILO scenarios import (`ilo_scenario`, `use_ilo`): simulated BMCs
are opt-in (`sim up --bmcs`), so these scenarios ask for them.
"""
import os

import pytest

import harness
from harness import host_health, vms_on


def bmc_of(sc, name_or_uuid):
    """`address:port` of a host's simulated BMC."""
    uuid = next(h["uuid"] for h in sc.pool.hosts if name_or_uuid in (h["name_label"], h["uuid"]))
    entry = sc.pool.json["bmcs"][uuid]
    return "%s:%d" % (entry["address"], entry["port"])


def write_ilo_map(sc, host, wrong=None):
    """`host`'s ILO.hosts: every host -> its own BMC, except `wrong` {host name: `address:port`}."""
    wrong = wrong or {}
    folder = os.path.join(sc.host_root(host), "etc", "ha-lizard", "fence", "ILO")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "ILO.hosts"), "w") as handle:
        for h in sc.pool.hosts:
            handle.write("%s:%s\n" % (h["uuid"], wrong.get(h["name_label"]) or bmc_of(sc, h["uuid"])))


def use_ilo(sc, password=None):
    """ILO.hosts on every host (host uuid -> its simulated BMC), FENCE_USER/PASSWD of the BMCs."""
    bmcs = sc.pool.json["bmcs"]
    assert len(bmcs) == len(sc.pool.hosts), "the pool has no BMCs: was it started with --bmcs?"
    for host in sc.pool.hosts:
        write_ilo_map(sc, host["name_label"])
    first = bmcs[sc.pool.hosts[0]["uuid"]]
    sc.set_config(FENCE_METHOD="ILO", FENCE_USER=first["user"],
                  FENCE_PASSWD=first["password"] if password is None else password)


@pytest.fixture
def ilo_scenario(scenario):
    """`ilo_scenario(**kw)`: harness's scenario(**kw) on a pool with BMCs (`sim up --bmcs`), fencing through ILO."""

    def make(password=None, **kw):
        sc = scenario(up_args=list(kw.pop("up_args", ())) + ["--bmcs"], **kw)
        use_ilo(sc, password)
        return sc
    return make


def test_slave_power_off_is_fenced_through_ilo_and_its_vms_restart(ilo_scenario):
    sc = ilo_scenario(hosts=3, vms=6)
    sc.start_supervisors()
    harness.wait_until(lambda: host_health(sc, "host3") == "healthy", 30, interval=0.3,
                       message="the master marks host3 healthy")
    victims = vms_on(sc, "host3")
    assert victims

    sc.pool.fault("power-off", "host3")
    for vm in victims:
        sc.wait_vm_running(vm, 60)
    assert host_health(sc, "host3") == "failed"
    report = sc.supervisor("host1").state("host-health")
    decision = report["hosts"][sc.pool.host("host3")["uuid"]]["decision"]
    assert "fenced" in decision, report
    sc.check_final()
