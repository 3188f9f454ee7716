"""Simulated host roots carry what a dom0 has: the xapi socket the tools log in through (no
password anywhere), and the host's name, which `$HOSTNAME` expands to."""
import os
import shutil
import stat

import pytest

from halizard.config import effective
from halizard.sim import roots
from halizard.xapi import session as xs

import sim_pools as sim_fixtures


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """One in-process pool for the module (a pool's teardown takes seconds)."""
    from sim_pools import assemble

    handle = sim_fixtures.InprocPool(assemble(str(tmp_path_factory.mktemp("identity")), 2, 1,
                                              start_latency=0.05, fuse=0.5))
    yield handle
    handle.close()


def test_every_root_has_a_named_marker_a_root_only_socket_and_no_password(pool):
    for host in pool.hosts:
        root = host["root"]
        assert not os.path.exists(os.path.join(root, "etc/ha-lizard/xapi-credentials"))
        marker = roots.read_sim_host(root)
        assert marker["name_label"] == host["name_label"]
        assert marker["host_uuid"] == host["uuid"] and marker["address"] == host["address"]
        socket_path = xs.local_socket_path(root)
        assert stat.S_ISSOCK(os.stat(socket_path).st_mode)
        assert stat.S_IMODE(os.stat(socket_path).st_mode) == 0o600


def test_the_local_socket_is_what_the_tools_use(pool):
    # an in-process pool writes no pool.json: nothing but the socket can log in
    assert not os.path.exists(os.path.join(pool.dir, "pool.json"))
    with xs.connect(pool.host("host2")["root"], timeout=5) as session:
        assert len(session.xenapi.host.get_all()) == 2


def test_hostname_expands_to_the_name_label_wherever_the_root_lives(pool, tmp_path):
    moved = str(tmp_path / "somewhere-else")
    shutil.copytree(pool.host("host2")["root"], moved, ignore=shutil.ignore_patterns("xapi"))  # not the socket
    assert effective.local_hostname(moved) == "host2"
    config = effective.effective_with_pool(moved, {}, False)
    assert config.get("MAIL_SUBJECT") == "SYSTEM_ALERT-FROM_HOST:host2"


def test_marker_updates_keep_each_others_keys(tmp_path):
    root = str(tmp_path)
    roots.update_sim_marker(root, name_label="hostA")
    roots.write_sim_marker(root, "uuid-1", "127.0.0.2", "http://127.0.0.1:1/", 7)
    assert roots.read_sim_host(root) == {"name_label": "hostA", "host_uuid": "uuid-1", "address": "127.0.0.2",
                                         "control_url": "http://127.0.0.1:1/", "probe_port": 7}
