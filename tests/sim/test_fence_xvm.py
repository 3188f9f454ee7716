"""XVM fencing of a simulated pool through its outer dom0: the host really goes
down (its xapi stops answering) and the agent verifies it by reading the power back."""
import os

from halizard.fence import registry
from halizard.fence.base import OFF, ON, RESET
from halizard.probes.deadline import after
from halizard.probes.xapi_alive import xapi_alive
from halizard.sim.outer import outer_vm_uuid


class Config(dict):
    pass


def write_xvm_hosts(root, hosts):
    folder = os.path.join(root, "etc/ha-lizard/fence/XVM")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "XVM.hosts"), "w") as handle:
        for host in hosts:
            handle.write("%s:%s\n" % (host["uuid"], outer_vm_uuid(host["uuid"])))


def test_xvm_fences_a_simulated_host_and_verifies(sim_pool):
    pool = sim_pool(hosts=3, vms=2)
    master = pool.master_name()
    fencer = pool.host(master)
    victim = next(h for h in pool.hosts if h["name_label"] != master)
    write_xvm_hosts(fencer["root"], pool.hosts)
    config = Config(FENCE_METHOD="XVM", FENCE_IPADDRESS=pool.json["outer_url"], FENCE_PASSWD=pool.json["outer_password"])
    agent = registry.agent_from_config(config, root=fencer["root"])

    assert agent.status(victim["uuid"], after(10)).state == ON
    assert xapi_alive(victim["address"], after(5)).alive

    result = agent.fence(victim["uuid"], "stop", after(15))
    assert result.verified and result.state == OFF, result.detail
    assert pool.host_status(victim["name_label"])["power"] == "off"
    assert not xapi_alive(victim["address"], after(2)).alive
    assert pool.status()["violations"] == []

    started = agent.fence(victim["uuid"], "start", after(15))
    assert started.verified and started.state == ON
    assert pool.host_status(victim["name_label"])["power"] == "on"

    reset = agent.fence(victim["uuid"], "reset", after(15))
    assert reset.verified and reset.state == RESET, reset.detail
    assert pool.host_status(victim["name_label"])["power"] == "on"


def test_xvm_with_wrong_password_fences_nothing(sim_pool):
    pool = sim_pool(hosts=2, vms=0)
    fencer, victim = pool.hosts[0], pool.hosts[1]
    write_xvm_hosts(fencer["root"], pool.hosts)
    config = Config(FENCE_METHOD="XVM", FENCE_IPADDRESS=pool.json["outer_url"], FENCE_PASSWD="not-the-password")
    result = registry.agent_from_config(config, root=fencer["root"]).fence(victim["uuid"], "stop", after(10))
    assert not result.verified
    assert pool.host_status(victim["name_label"])["power"] == "on"
