"""ILO fencing that proves nothing releases nothing: a BMC that does not answer and then a wrong
FENCE_PASSWD (ipmitool cannot tell these apart: both fail to open a session) leave the dead slave's VMs down (FENCE_HA_ONFAIL=0), and the password
shows in no log; once the admin fixes both (and sets FENCE_ACTION=reset: power off, then on) the
fence is verified, the VMs restart elsewhere and the host comes back on, with no violation."""
import socket
import threading

import pytest

import harness
from harness import host_health, vms_on
from test_ilo_slave_poweroff import bmc_of, ilo_scenario, write_ilo_map  # noqa: F401 - fixtures

WRONG = "Not-The-Bmc-Pw-7"


class SilentBmc:
    """A UDP port 623 that reads every packet and never answers (a hung BMC), on `address`."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 623))
        self.sock.settimeout(0.2)
        self.address = address
        self.stop = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        while not self.stop.is_set():
            try:
                self.sock.recvfrom(4096)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.mark.timeout(300)  # a few failed cycles, then a reset; slow on a loaded machine
def test_silent_bmc_and_wrong_password_fence_nothing_until_fixed_then_reset_releases(ilo_scenario):  # noqa: F811
    sc = ilo_scenario(hosts=3, vms=6, password=WRONG, config={"FENCE_HA_ONFAIL": 0})
    silent = SilentBmc(sc.pool.host("host1")["address"].rsplit(".", 1)[0] + ".250")
    try:
        write_ilo_map(sc, "host1", wrong={"host3": silent.address})
        sc.start_supervisors()
        harness.wait_until(lambda: host_health(sc, "host3") == "healthy", 30, interval=0.3,
                           message="the master marks host3 healthy")
        victims = vms_on(sc, "host3")
        assert victims
        host3 = sc.pool.host("host3")["uuid"]
        master = sc.supervisor("host1")

        def decision():
            return ((master.state("host-health") or {}).get("hosts", {}).get(host3) or {}).get("decision", "")

        def refused(bmc):
            return "was not verified" in decision() and "(BMC %s): ipmitool exit" % bmc in master.log()

        sc.pool.fault("power-off", "host3")
        sc.wait_until(lambda: refused(silent.address + ":623"), 45, message="the silent BMC giving no proof")
        write_ilo_map(sc, "host1")  # the right BMC, still the wrong password
        sc.wait_until(lambda: refused(bmc_of(sc, "host3")), 45, message="the refused login giving no proof")
        assert "wrong FENCE_USER/FENCE_PASSWD" in master.log()
        assert all(sc.vm(vm)["running_on"] == [] for vm in victims), "no proof, no restart"
        assert "FENCE_HA_ONFAIL=0" in decision()
        assert WRONG not in sc.logs() + master.log()
    finally:
        silent.close()

    sc.set_config(FENCE_PASSWD=sc.pool.json["bmcs"][host3]["password"], FENCE_ACTION="reset")
    for vm in victims:
        sc.wait_vm_running(vm, 60)
    # (the decision moves on once host3 answers again after the reset: read the fence in the log)
    assert "ILO reset of host %s" % host3 in master.log() and "verified off, then on again" in master.log()
    harness.wait_until(lambda: sc.pool.host_status("host3")["power"] == "on", 20, interval=0.3,
                       message="host3 powered on again by the reset")
    sc.check_final()
