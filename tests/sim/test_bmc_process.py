"""The simulated BMC child process: starts, answers real ipmitool, frees its address when closed,
reports a start failure in one line, and a BMC whose simulator is gone never claims a power state."""
import os
import socket
import subprocess
import sys

import pytest

from halizard.sim import bmc

ADDRESS = "127.0.0.%d" % (150 + os.getpid() % 50)


def ipmitool(address, password, *command):
    env = {"PATH": "/usr/bin:/usr/sbin:/bin", "IPMI_PASSWORD": password}
    return subprocess.run(["ipmitool", "-I", "lanplus", "-H", address, "-U", bmc.BMC_USER, "-E", "-N", "1",
                           "-R", "2", "chassis", "power"] + list(command),
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def test_bmc_without_simulator_answers_an_error_and_close_frees_the_address():
    bmcs = bmc.start_bmcs("http://127.0.0.1:9/", [("0000", ADDRESS)], "pw-1").wait_ready()
    try:
        result = ipmitool(ADDRESS, "pw-1", "status")
        assert result.returncode != 0
        assert "Chassis Power is" not in result.stdout
    finally:
        bmcs.close()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((ADDRESS, bmc.BMC_PORT))
    finally:
        sock.close()


def test_taken_address_is_reported_as_address_in_use():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((ADDRESS, bmc.BMC_PORT))
    try:
        with pytest.raises(OSError) as caught:
            bmc.start_bmcs("http://127.0.0.1:9/", [("0000", ADDRESS)], "pw").wait_ready()
        assert "in use" in str(caught.value) or "EADDRINUSE" in str(caught.value)
    finally:
        sock.close()


def test_a_child_that_dies_is_one_clear_error():
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"], stdout=subprocess.PIPE)
    with pytest.raises(bmc.BmcError, match="exited with status 3"):
        bmc.BmcSet(process, {}).wait_ready(10)


def test_addresses_stay_in_the_block():
    assert bmc.bmc_address("127.9.9", 0) == "127.9.9.201"
    assert bmc.bmc_address("127.9.9", bmc.MAX_BMCS - 1) == "127.9.9.251"
    with pytest.raises(bmc.BmcError):
        bmc.bmc_address("127.9.9", bmc.MAX_BMCS)


def test_bmcs_are_opt_in_a_plain_pool_binds_none(sim_pool):
    """Why opt-in: every pool of the suite would otherwise pay for a BMC child it never uses."""
    pool = sim_pool(hosts=2, vms=1)
    assert pool.json["bmcs"] == {}
    assert "BMC" not in pool.up_result.stdout
    prefix = pool.hosts[0]["address"].rsplit(".", 1)[0]
    for index in range(2):  # the BMC addresses of the block are free
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((bmc.bmc_address(prefix, index), bmc.BMC_PORT))
        finally:
            sock.close()


def test_sim_up_help_offers_bmcs(sim_cli):
    result = sim_cli("up", "--help")
    assert result.returncode == 0 and "--bmcs" in result.stdout and "pyghmi" in result.stdout
