"""Cut links, the gateway and the call counters, as a XenAPI client, a prober and the sim CLI see them."""
import http.client
import ipaddress
import json

import pytest
import XenAPI

from halizard.platform import get_platform
from halizard.probes import net
from halizard.probes.deadline import after
from halizard.xapi import session as xs
from jsonrpc_client import JsonRpcSession

NETWORK_ERRORS = (OSError, http.client.HTTPException)


def login_outcome(pool, name, source=None):
    """'ok', the XAPI error code, or 'unreachable' for a login at `name` sent from `source`."""
    try:
        pool.xenapi_session(name, source=source, timeout=2.0)
    except XenAPI.Failure as failure:
        return failure.details[0]
    except NETWORK_ERRORS:
        return "unreachable"
    return "ok"


def heuristic_ok(pool, from_name, address):
    """The product's own heuristic probe (FENCE_HEURISTICS_IPS) of `address`, sent by host `from_name`."""
    platform = get_platform(pool.host(from_name)["root"])
    return net.probe(platform.probe_target(address), after(3.0), platform.source_address()).ok


@pytest.fixture
def pool(inproc_pool):
    return inproc_pool(hosts=3, vms=3)


def test_cut_breaks_one_link_both_ways_and_heal_ends_it(pool):
    assert pool.master_name() == "host1"
    pool.fault("cut", "host1", "host3")
    assert login_outcome(pool, "host1", source="host3") == "unreachable"
    assert login_outcome(pool, "host3", source="host1") == "unreachable"
    assert login_outcome(pool, "host1", source="host2") == "ok"  # the others still reach both ends
    assert login_outcome(pool, "host3", source="host2") == "HOST_IS_SLAVE"
    assert login_outcome(pool, "host1") == "ok"  # the outside world is not cut
    assert pool.status()["cuts"] == [{"from": "host1", "to": "host3"}, {"from": "host3", "to": "host1"}]
    pool.fault("heal")
    assert pool.status()["cuts"] == []
    assert login_outcome(pool, "host1", source="host3") == "ok"


def test_cut_oneway_drops_only_the_first_hosts_packets(pool):
    pool.fault("cut-oneway", "host3", "host1")
    assert login_outcome(pool, "host1", source="host3") == "unreachable"
    assert login_outcome(pool, "host3", source="host1") == "HOST_IS_SLAVE"  # host1's calls reach host3
    assert pool.status()["cuts"] == [{"from": "host3", "to": "host1"}]
    # host3's xapi cannot reach its master: a slave-local session cannot be served from the master
    local = pool.xenapi_session("host3", login=False)
    local.slave_local_login_with_password("root", pool.password)
    with pytest.raises(XenAPI.Failure) as failure:
        local.xenapi.VM.get_all()
    assert failure.value.details[0] == "CANNOT_CONTACT_HOST"


def test_the_gateway_answers_the_heuristic_probe_unless_powered_off_partitioned_or_cut(pool):
    gateway = pool.json["gateway"]
    assert ipaddress.ip_address(gateway).is_loopback and gateway.rsplit(".", 1)[0] == \
        pool.host("host1")["address"].rsplit(".", 1)[0]
    assert all(heuristic_ok(pool, name, gateway) for name in ("host1", "host2", "host3"))
    pool.fault("partition", "host1", "host2,host3,gateway")
    assert [heuristic_ok(pool, name, gateway) for name in ("host1", "host2", "host3")] == [False, True, True]
    pool.fault("heal")
    pool.fault("cut", "host2", "gateway")
    assert [heuristic_ok(pool, name, gateway) for name in ("host1", "host2", "host3")] == [True, False, True]
    pool.fault("heal")
    pool.fault("power-off", "gateway")
    assert pool.status()["gateway"]["power"] == "off"
    assert not any(heuristic_ok(pool, name, gateway) for name in ("host1", "host2", "host3"))
    pool.fault("power-on", "gateway")
    assert heuristic_ok(pool, "host1", gateway)


def test_calls_count_what_each_hosts_xapi_answered(pool):
    before = pool.status()["calls"]
    assert set(before) == {"host1", "host2", "host3"}
    session = pool.xenapi_session("host1")
    for _ in range(3):
        session.xenapi.VM.get_all()
    assert login_outcome(pool, "host2") == "HOST_IS_SLAVE"  # a failure answer is a served call too
    calls = pool.status()["calls"]

    def delta(host, method):
        return calls[host].get(method, 0) - before[host].get(method, 0)

    assert delta("host1", "VM.get_all") == 3
    assert delta("host1", "session.login_with_password") == 1
    assert delta("host2", "session.login_with_password") == 1
    assert delta("host3", "session.login_with_password") == 0


def test_calls_over_jsonrpc_and_the_local_socket_are_counted_too(pool):
    before = pool.status()["calls"]
    rpc = JsonRpcSession(pool.host("host1")["address"]).login("root", pool.password)
    try:
        rpc.call("VM.get_all")
        rpc.call("VM.get_all")
    finally:
        rpc.close()
    with xs.local_session(pool.host("host1")["root"], timeout=5) as local:
        local.xenapi.host.get_all()
    calls = pool.status()["calls"]["host1"]
    assert calls.get("VM.get_all", 0) - before["host1"].get("VM.get_all", 0) == 2
    assert calls.get("host.get_all", 0) - before["host1"].get("host.get_all", 0) == 1


def test_cli_cut_heal_gateway_and_counters(sim_pool):
    pool = sim_pool(hosts=3, vms=2)
    assert pool.fault("cut", "host1", "host2").stdout.strip() == "cut host1 host2"
    pool.fault("cut-oneway", "host3", "gateway")
    status = pool.status()
    assert status["cuts"] == [{"from": "host1", "to": "host2"}, {"from": "host2", "to": "host1"},
                              {"from": "host3", "to": "gateway"}]
    assert login_outcome(pool, "host1", source="host2") == "unreachable"
    assert login_outcome(pool, "host1", source="host3") == "ok"
    table = pool.run("status").stdout
    assert "cut links: host1->host2, host2->host1, host3->gateway" in table
    pool.fault("heal")
    assert pool.status()["cuts"] == []
    pool.fault("partition", "host1", "host2,gateway")
    assert login_outcome(pool, "host1", source="host2") == "unreachable"
    pool.fault("heal")
    pool.fault("power-off", "gateway")
    assert pool.status()["gateway"] == {"address": pool.json["gateway"], "power": "off", "link": "up"}
    pool.fault("power-on", "gateway")
    pool.xenapi_session("host1").xenapi.host.get_all()
    calls = json.loads(pool.run("status", "--json").stdout)["calls"]
    assert calls["host1"]["host.get_all"] == 1


def test_cli_bad_cuts_exit_2_and_change_nothing(sim_pool):
    pool = sim_pool(hosts=2, vms=0)
    before = pool.status()
    for args, fragment in (
            (["cut", "host1"], "exactly two names"),
            (["cut", "host1", "host2", "host1"], "exactly two names"),
            (["cut-oneway"], "exactly two names"),
            (["cut", "host1", "host1"], "from itself"),
            (["cut-oneway", "gateway", "gateway"], "from itself"),
            (["cut", "host1", "ghost"], "unknown host"),
            (["cut", "ghost", "host2"], "unknown host"),
            (["snip", "host1", "host2"], "unknown action"),
            (["hang-xapi", "gateway"], "does not apply to the gateway"),
            (["power-off", "host1", "gateway", "ghost"], "unknown host")):
        result = pool.run("fault", *args)
        assert result.returncode == 2, (args, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and fragment in lines[0], (args, result.stderr)
    assert pool.status() == before
