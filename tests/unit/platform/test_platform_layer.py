"""The platform layer: the right implementation per root, and the simulated one for real."""
import json
import time

import pytest

from halizard.platform import PlatformError, get_platform
from halizard.platform.sim import SimPlatform
from halizard.platform.xen import XenPlatform, parse_xl_list
from halizard.probes import net
from sim_pools import assemble
from waiting import wait_until

XL_LIST = """\
Name                                        ID   Mem VCPUs\tState\tTime(s)   UUID                            Reason-Code\tSecurity Label
Domain-0                                     0  4096     4     r-----    1234.5 00000000-0000-0000-0000-000000000000        -                -
web server 1                                 3  1024     1     -b----      12.3 d1f8a0c2-1111-4a4a-9b9b-0123456789ab        -                -
db                                          17  2048     2     -b----       1.0 D2F8A0C2-2222-4A4A-9B9B-0123456789AB        -                -
"""


@pytest.fixture
def running(tmp_path):
    pool = assemble(str(tmp_path), 3, 6, start_latency=0.05, fuse=0.5)
    yield pool
    pool.close()


def root_of(running, name):
    return next(h["root"] for h in running.document()["hosts"] if h["name_label"] == name)


def test_factory_picks_xen_without_marker_and_sim_with_it(tmp_path, running):
    assert isinstance(get_platform(str(tmp_path / "plain")), XenPlatform)
    platform = get_platform(root_of(running, "host2"))
    assert isinstance(platform, SimPlatform)
    host = next(h for h in running.document()["hosts"] if h["name_label"] == "host2")
    assert platform.host_uuid == host["uuid"] and platform.source_address() == host["address"]


def test_factory_honours_halizard_root(monkeypatch, running):
    monkeypatch.setenv("HALIZARD_ROOT", root_of(running, "host1"))
    assert isinstance(get_platform(), SimPlatform)


def test_xen_platform_probes_by_icmp_and_parses_xl_list():
    platform = XenPlatform("/nonexistent-root")
    assert platform.source_address() is None
    target = platform.probe_target("127.0.0.1")
    assert (target.method, target.address) == ("icmp", "127.0.0.1")
    assert parse_xl_list(XL_LIST) == [(3, "d1f8a0c2-1111-4a4a-9b9b-0123456789ab"),
                                      (17, "d2f8a0c2-2222-4a4a-9b9b-0123456789ab")]


def test_sim_local_domains_and_destroy_follow_ground_truth(running):
    platform = get_platform(root_of(running, "host1"))
    status = running.pool.status()
    expected = sorted(vm["uuid"] for vm in status["vms"] if vm["running_on"] == ["host1"])
    assert expected and sorted(platform.local_domains()) == expected
    platform.destroy_domain(expected[0])
    assert expected[0] not in platform.local_domains()
    victim = next(vm for vm in running.pool.status()["vms"] if vm["uuid"] == expected[0])
    assert victim["running_on"] == []


def test_sim_reboot_kills_domains_and_restart_toolstack_takes_xapi_down(running):
    platform = get_platform(root_of(running, "host3"))
    assert platform.local_domains()
    platform.reboot()
    assert platform.local_domains() == []
    host3 = next(h for h in running.pool.status()["hosts"] if h["name_label"] == "host3")
    assert host3["power"] == "on"
    platform.restart_toolstack()

    def host3_xapi():
        return {h["name_label"]: h["xapi"] for h in running.pool.status()["hosts"]}["host3"]

    assert wait_until(lambda: host3_xapi() == "down", 2.0), "xapi restarts"
    assert wait_until(lambda: host3_xapi() == "up", 10.0), "and comes back"


def test_sim_disk_health(running):
    platform = get_platform(root_of(running, "host2"))
    assert platform.disk_health().healthy
    running.pool.fault("disk-fail", ["host2"])
    health = platform.disk_health()
    assert not health.healthy and "FAILED" in health.detail


def test_sim_probe_target_is_a_real_probe_that_partitions_affect(running):
    one = get_platform(root_of(running, "host1"))
    two_address = get_platform(root_of(running, "host2")).source_address()
    target = one.probe_target(two_address)
    assert target.method == "udp"
    assert net.probe(target, time.monotonic() + 2.0, source=one.source_address()).ok
    running.pool.fault("partition", ["host1", "host2,host3"])
    began = time.monotonic()
    cut = net.probe(target, time.monotonic() + 2.0, source=one.source_address())
    assert not cut.ok and "refused" in cut.detail
    assert time.monotonic() - began < 1.0, "refused at once, as a reset connection was"
    running.pool.fault("heal", [])
    assert net.probe(target, time.monotonic() + 2.0, source=one.source_address()).ok


def test_sim_platform_errors_are_one_line_platform_errors(tmp_path, running):
    marker_root = tmp_path / "fake"
    (marker_root / "etc/ha-lizard").mkdir(parents=True)
    marker = {"host_uuid": "no-such-host", "address": "127.0.0.1",
              "control_url": running.control_url, "probe_port": 7}
    (marker_root / "etc/ha-lizard/sim-host.json").write_text(json.dumps(marker))
    with pytest.raises(PlatformError) as unknown:
        get_platform(str(marker_root)).local_domains()
    assert "unknown host" in str(unknown.value)

    marker["control_url"] = "http://127.0.0.1:9/"
    (marker_root / "etc/ha-lizard/sim-host.json").write_text(json.dumps(marker))
    started = time.monotonic()
    with pytest.raises(PlatformError) as unreachable:
        get_platform(str(marker_root)).local_domains()
    assert time.monotonic() - started < 5.0
    assert "\n" not in str(unreachable.value)

    for broken in ("{}", "{not json", "[]"):
        (marker_root / "etc/ha-lizard/sim-host.json").write_text(broken)
        with pytest.raises(PlatformError):
            get_platform(str(marker_root))
