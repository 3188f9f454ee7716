"""ILO/IRMC (ipmitool) and fence_<agent> set-up rules: map values, refused options, missing
pieces, and the password kept off the command line (read from /proc of the real ipmitool)."""
import os
import socket
import threading
import time

import pytest

from halizard.fence import clusterlabs, ipmi, registry
from halizard.fence.base import FenceConfigError, FenceSettings
from halizard.probes.deadline import after


@pytest.mark.parametrize("value, expected", [
    ("127.0.0.1", ("127.0.0.1", 623)),
    ("127.0.0.1:6230", ("127.0.0.1", 6230)),
    ("bmc-1.example", ("bmc-1.example", 623)),
    ("::1", ("::1", 623)),
    ("[::1]:624", ("::1", 624)),
])
def test_bmc_addresses(value, expected):
    assert ipmi.parse_bmc(value) == expected


@pytest.mark.parametrize("value", ["-oProxy", "127.0.0.1:0", "127.0.0.1:x", "[::1]x", "[nope]:1", "a/b"])
def test_bad_bmc_addresses_are_refused(value):
    assert ipmi.validate_bmc(value)


def test_cluster_labs_options():
    assert clusterlabs.parse_options("127.0.0.1") == [("ip", "127.0.0.1")]
    assert clusterlabs.parse_options("ip=127.0.0.1,ipport=623,lanplus=1") == [
        ("ip", "127.0.0.1"), ("ipport", "623"), ("lanplus", "1")]
    for bad in ("ip=1,password=x", "action=on", "Ip=1", "ip=", "ip=1,,x=2", "ip=1,ip=2", "ip=1,plain",
                "password_script=/bin/x"):
        assert clusterlabs.validate_options(bad), bad


def settings(tmp_path, method, **extra):
    values = {"method": method, "file_loc": str(tmp_path), "password": "pw-123"}
    values.update(extra)
    return FenceSettings(**values)


def test_configuration_errors_are_clear(tmp_path):
    with pytest.raises(FenceConfigError, match="FENCE_PASSWD"):
        registry.create_agent(settings(tmp_path, "ILO", password=""))
    with pytest.raises(FenceConfigError, match="not installed"):
        registry.create_agent(settings(tmp_path, "fence_no_such_agent_here"))
    with pytest.raises(FenceConfigError, match="invalid fence agent name"):
        registry.create_agent(settings(tmp_path, "fence_../x"))
    assert registry.create_agent(settings(tmp_path, "IRMC")).user == "admin"
    assert registry.create_agent(settings(tmp_path, "ILO")).user == "Administrator"
    assert registry.create_agent(settings(tmp_path, "ILO", user="ops")).user == "ops"


def test_missing_map_file_is_a_failed_fence(tmp_path):
    agent = registry.create_agent(settings(tmp_path, "ILO"))
    result = agent.fence("0" * 8 + "-0000-0000-0000-" + "0" * 12, "stop", after(5))
    assert not result.verified and "ILO.hosts" in result.detail


def test_password_reaches_ipmitool_only_through_its_environment(tmp_path):
    address = "127.0.0.%d" % (100 + os.getpid() % 100)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 0))
    port = sock.getsockname()[1]
    host = "11111111-2222-3333-4444-555555555555"
    folder = tmp_path / "ILO"
    folder.mkdir()
    (folder / "ILO.hosts").write_text("%s:%s:%d\n" % (host, address, port))
    agent = registry.create_agent(settings(tmp_path, "ILO"))
    results = []
    worker = threading.Thread(target=lambda: results.append(agent.status(host, after(4))))
    worker.start()
    seen = None
    until = time.monotonic() + 4
    try:
        while seen is None and time.monotonic() < until:
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as handle:
                        cmdline = handle.read()
                    if b"ipmitool" not in cmdline or address.encode() not in cmdline:
                        continue
                    with open("/proc/%s/environ" % pid, "rb") as handle:
                        environ = handle.read()
                except OSError:
                    continue
                seen = (cmdline, environ)
                break
            time.sleep(0.02)
    finally:
        worker.join(15)
        sock.close()
    assert seen is not None, "ipmitool was never seen running"
    assert b"pw-123" not in seen[0] and b"-E" in seen[0].split(b"\0")
    assert b"IPMI_PASSWORD=pw-123" in seen[1].split(b"\0")
    assert results and not results[0].verified and "pw-123" not in results[0].detail
