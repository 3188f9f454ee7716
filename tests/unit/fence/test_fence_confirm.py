"""fence_host: crashes become unverified results, a contradicted 'off' is not trusted."""
import os

from halizard.fence import registry
from halizard.fence.base import FAILED, OFF, RESET, FenceAgent, FenceConfigError, FenceResult, FenceSettings
from halizard.fence.confirm import fence_host
from halizard.probes.deadline import after
from halizard.probes.xapi_alive import xapi_alive

HOST = "11111111-2222-3333-4444-555555555555"


class Fixed(FenceAgent):
    def __init__(self, outcome):
        super().__init__(FenceSettings(method="FIXED", file_loc="/x"))
        self.outcome = outcome

    def fence(self, host_uuid, action, deadline):
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def test_verified_off_is_kept_when_host_is_silent(closed_port):
    url = "http://127.0.0.1:%d/" % closed_port
    result = fence_host(Fixed(FenceResult.proven(OFF, "off")), HOST, "stop", after(5),
                        still_alive=lambda d: xapi_alive(url, d).alive)
    assert result.verified and result.state == OFF


def test_off_contradicted_by_a_live_xapi_is_not_trusted(fake_xapi):
    server = fake_xapi("slave")
    result = fence_host(Fixed(FenceResult.proven(OFF, "bmc says off")), HOST, "stop", after(5),
                        still_alive=lambda d: xapi_alive(server.url, d).alive)
    assert not result.verified and result.state == FAILED and "still answers" in result.detail


def _power_script(tmp_path):
    """A real custom fence agent (halizard.fence.script) whose map line points at another server: it
    switches that server's power (recorded in a file) and exits 0, whatever becomes of the target."""
    fence_dir = tmp_path / "fence"
    (fence_dir / "WRONGMAP").mkdir(parents=True)
    os.chmod(str(fence_dir), 0o755)
    os.chmod(str(fence_dir / "WRONGMAP"), 0o755)
    calls = tmp_path / "calls"
    script = fence_dir / "WRONGMAP" / "WRONGMAP.sh"
    script.write_text('#!/bin/sh\necho "$2" >> %s\nexit 0\n' % calls)
    os.chmod(str(script), 0o755)
    return registry.create_agent(FenceSettings(method="WRONGMAP", file_loc=str(fence_dir))), calls


def test_a_reset_of_a_host_that_still_answers_is_not_a_fence(fake_xapi, tmp_path):
    # failed before: a verified `reset` was never cross-checked (the host answers again right after a
    # real one), so a wrong map line that power-cycled another server counted as fenced
    server = fake_xapi("slave")
    agent, calls = _power_script(tmp_path)
    result = fence_host(agent, HOST, "reset", after(10), still_alive=lambda d: xapi_alive(server.url, d).alive)
    assert not result.verified and result.state == FAILED and "still answers" in result.detail
    assert calls.read_text().split() == ["stop", "start"], "the server switched off gets its power back"


def test_a_reset_of_a_silent_host_is_a_fence(closed_port, tmp_path):
    agent, calls = _power_script(tmp_path)
    url = "http://127.0.0.1:%d/" % closed_port
    result = fence_host(agent, HOST, "reset", after(10), still_alive=lambda d: xapi_alive(url, d).alive)
    assert result.verified and result.state == RESET
    assert calls.read_text().split() == ["stop", "start"]


def test_a_reset_whose_power_on_fails_still_proves_off(closed_port):
    class OffOnly(FenceAgent):
        def fence(self, host_uuid, action, deadline):
            return FenceResult.proven(OFF, "off") if action == "stop" else FenceResult.unproven(FAILED, "no")

    url = "http://127.0.0.1:%d/" % closed_port
    result = fence_host(OffOnly(FenceSettings(method="X", file_loc="/x")), HOST, "reset", after(5),
                        still_alive=lambda d: xapi_alive(url, d).alive)
    assert result.verified and result.state == OFF


def test_a_reset_without_a_cross_check_is_the_agent_s_own(fake_xapi):
    result = fence_host(Fixed(FenceResult.proven(RESET, "cycled")), HOST, "reset", after(5))
    assert result.verified and result.state == RESET


def test_crashing_or_misbehaving_agents_are_unverified():
    assert not fence_host(Fixed(RuntimeError("boom")), HOST, "stop", after(5)).verified
    assert not fence_host(Fixed(FenceConfigError("no map")), HOST, "stop", after(5)).verified
    assert not fence_host(Fixed("yes"), HOST, "stop", after(5)).verified


def test_a_failing_cross_check_counts_as_maybe_alive():
    # failed before: an exception in the check counted as "not alive", so the "off" was trusted
    def broken(_deadline):
        raise OSError("nope")

    result = fence_host(Fixed(FenceResult.proven(OFF, "off")), HOST, "stop", after(5), still_alive=broken)
    assert not result.verified and result.state == FAILED and "could not be cross-checked" in result.detail
