"""The simulator's wire, driven through the official XenAPI client (in-process pool).

Each simulated host listens on its own loopback address, port 80; the peer
address decides reachability; hung xapi never answers; malformed XML is 500.
"""
import http.client
import socket
import threading
import time

import pytest
import XenAPI

from halizard.sim.addresses import BoundTransport
from halizard.sim.probe import probe
from waiting import stays, wait_until

NETWORK_ERRORS = (OSError, http.client.HTTPException)


def answers(pool, host_name, source=None, timeout=2.0):
    """True when host_name's xapi gives any XAPI answer (HOST_IS_SLAVE counts)."""
    try:
        pool.xenapi_session(host_name, source=source, timeout=timeout)
    except XenAPI.Failure:
        return True
    except NETWORK_ERRORS:
        return False
    return True


@pytest.fixture
def pool(inproc_pool):
    return inproc_pool(hosts=3, vms=4)


def test_each_host_has_its_own_address_on_port_80(pool):
    addresses = [host["address"] for host in pool.hosts]
    assert len(set(addresses)) == 3
    for host in pool.hosts:
        assert host["address"].startswith("127.") and host["address"] != "127.0.0.1"
        assert host["xapi_url"] == "http://%s/" % host["address"]


def test_master_serves_and_slave_names_master_address_that_is_enough_to_connect(pool):
    session = pool.xenapi_session("host1")
    assert len(session.xenapi.host.get_all()) == 3
    with pytest.raises(XenAPI.Failure) as failure:
        pool.xenapi_session("host2")
    assert failure.value.details[0] == "HOST_IS_SLAVE"
    master_address = failure.value.details[1]
    assert master_address == pool.host("host1")["address"]
    again = XenAPI.Session("http://%s/" % master_address, transport=BoundTransport(timeout=5.0))
    again.login_with_password("root", pool.password, "2.0", "test")
    assert again.xenapi.pool.get_all()


def test_large_integers_travel_as_strings(pool):
    session = pool.xenapi_session()
    host = session.xenapi.host.get_all()[0]
    memory = session.xenapi.host_metrics.get_memory_total(session.xenapi.host.get_metrics(host))
    assert isinstance(memory, str) and int(memory) > 2 ** 31


def test_malformed_xml_is_http_500(pool):
    connection = http.client.HTTPConnection(pool.host("host1")["address"], 80, timeout=5)
    connection.request("POST", "/", body=b"<?xml version='1.0'?><methodCall><methodName>VM.get_all",
                       headers={"Content-Type": "text/xml"})
    response = connection.getresponse()
    assert response.status == 500
    connection.close()


def test_get_is_forbidden_like_modern_hosts(pool):
    connection = http.client.HTTPConnection(pool.host("host2")["address"], 80, timeout=5)
    connection.request("GET", "/")
    assert connection.getresponse().status == 403
    connection.close()


def test_hung_xapi_accepts_but_never_answers_until_unhung(pool):
    pool.fault("hang-xapi", "host1")
    address = pool.host("host1")["address"]
    raw = socket.create_connection((address, 80), timeout=2.0)  # the connection is accepted
    raw.close()
    started = time.monotonic()
    with pytest.raises(socket.timeout):
        pool.xenapi_session("host1", timeout=0.7)
    assert 0.6 < time.monotonic() - started < 5.0
    assert probe(address, 7, timeout=2.0), "a hung xapi still answers the network probe"
    pool.fault("unhang-xapi", "host1")
    assert answers(pool, "host1")


def test_request_held_by_hung_xapi_is_answered_after_unhang(pool):
    pool.fault("hang-xapi", "host1")
    result = {}

    def call():
        try:
            result["value"] = pool.xenapi_session("host1", timeout=10.0).xenapi.host.get_all()
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            result["error"] = exc

    worker = threading.Thread(target=call)
    worker.start()
    stays(worker.is_alive, 0.3, interval=0.05, message="a hung xapi not answering")
    pool.fault("unhang-xapi", "host1")
    worker.join(10.0)
    assert len(result.get("value", [])) == 3, result


def test_power_off_resets_connections_and_probe(pool):
    address = pool.host("host2")["address"]
    assert probe(address, 7)
    pool.fault("power-off", "host2")
    assert not answers(pool, "host2")
    assert not probe(address, 7, timeout=2.0)
    pool.fault("power-on", "host2")
    assert wait_until(lambda: answers(pool, "host2"))
    assert probe(address, 7)


def test_partition_is_enforced_by_source_address(pool):
    pool.fault("partition", "host1", "host2,host3")
    h1, h2, h3 = (pool.host(name)["address"] for name in ("host1", "host2", "host3"))
    assert not answers(pool, "host1", source="host2")
    assert not probe(h1, 7, source=h2, timeout=2.0)
    assert probe(h3, 7, source=h2)
    assert answers(pool, "host3", source="host2")
    assert answers(pool, "host1", source="host1")
    assert answers(pool, "host1"), "127.0.0.1 is outside every partition"
    pool.fault("heal")
    assert answers(pool, "host1", source="host2")
    assert probe(h1, 7, source=h2)


def test_link_down_cuts_the_host_off_from_its_peers(pool):
    h2 = pool.host("host2")["address"]
    pool.fault("link-down", "host2")
    assert not probe(h2, 7, source=pool.host("host1")["address"], timeout=2.0)
    assert not answers(pool, "host1", source="host2")
    pool.fault("link-up", "host2")
    assert probe(h2, 7, source=pool.host("host1")["address"])
    assert answers(pool, "host1", source="host2")


def event_from(session, classes, token, timeout):
    return getattr(session.xenapi.event, "from")(classes, token, timeout)


def test_a_long_poll_does_not_block_other_requests(pool):
    session = pool.xenapi_session()
    first = event_from(session, ["message"], "", 0.1)
    done = {}

    def long_poll():
        own = pool.xenapi_session()
        started = time.monotonic()
        event_from(own, ["message"], first["token"], 1.5)
        done["elapsed"] = time.monotonic() - started

    worker = threading.Thread(target=long_poll)
    worker.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert len(session.xenapi.host.get_all()) == 3
    assert time.monotonic() - started < 1.0, "a blocked event.from must not hold other callers"
    worker.join(10.0)
    assert done["elapsed"] >= 1.0


def test_vm_starts_run_concurrently(inproc_pool):
    pool = inproc_pool(hosts=2, vms=4, start_latency=0.6)
    session = pool.xenapi_session()
    vms = [session.xenapi.VM.get_by_name_label(vm["name_label"])[0] for vm in pool.json["vms"]]
    for vm in vms:
        session.xenapi.VM.hard_shutdown(vm)
    errors = []

    def start(vm):
        try:
            pool.xenapi_session(timeout=10.0).xenapi.VM.start(vm, False, False)
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)

    workers = [threading.Thread(target=start, args=(vm,)) for vm in vms]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(15.0)
    elapsed = time.monotonic() - started
    assert not errors, errors
    assert all(session.xenapi.VM.get_power_state(vm) == "Running" for vm in vms)
    assert 0.5 < elapsed < 4 * 0.6, "four 0.6 s starts took %.2f s: they must overlap" % elapsed
