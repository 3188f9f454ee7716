"""The peer query on a simulated pool: every host root holds the same pool secret and its own peer
port, and the simulator's links decide who gets an answer, as for the reachability probe."""
import os
import stat
import threading
import time

import pytest

from halizard import paths
from halizard.peers import client, server, wire
from halizard.platform import get_platform
from halizard.sim.addresses import PEER_PORT
from sim_pools import assemble


@pytest.fixture
def running(tmp_path):
    pool = assemble(str(tmp_path), 3, 3, start_latency=0.05, fuse=0.5)
    yield pool
    pool.close()


def _hosts(running):
    return {h["name_label"]: h for h in running.document()["hosts"]}


def test_every_host_holds_the_same_pool_secret_and_a_peer_port(running):
    hosts = _hosts(running)
    keys = {wire.pool_key(h["root"]) for h in hosts.values()}
    assert len(keys) == 1
    for host in hosts.values():
        secret = paths.under(host["root"], paths.POOL_SECRET)
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
        assert get_platform(host["root"]).peer_port(694) == PEER_PORT


def test_a_cut_link_or_a_powered_off_asker_gets_no_answer(running):
    hosts = _hosts(running)
    two = get_platform(hosts["host2"]["root"])
    key = wire.pool_key(hosts["host2"]["root"])
    responder = server.Responder(key, two.source_address(), two.peer_port(694),
                                 lambda: (hosts["host2"]["uuid"], False, hosts["host1"]["address"], 1.0, True),
                                 gate=two.peer_gate())
    threading.Thread(target=responder.serve, args=(time.monotonic() + 20.0,), daemon=True).start()

    def ask(name):
        source = get_platform(hosts[name]["root"]).source_address()
        target = [(hosts["host2"]["uuid"], hosts["host2"]["address"])]
        return client.ask(target, PEER_PORT, key, hosts[name]["uuid"], time.monotonic() + 1.0,
                          source=source)[hosts["host2"]["uuid"]]

    try:
        assert ask("host1").master_age == 1.0 and ask("host3") is not None
        running.pool.fault("cut", ["host1", "host2"])
        assert ask("host1") is None and ask("host3") is not None
        running.pool.fault("heal", [])
        assert ask("host1") is not None
        running.pool.fault("cut-oneway", ["host2", "host1"])  # host1 opens the exchange: it gets through
        assert ask("host1") is not None
    finally:
        responder.close()
