"""fence_host: crashes become unverified results, a contradicted 'off' is not trusted."""
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


def test_reset_is_not_cross_checked(fake_xapi):
    server = fake_xapi("slave")
    result = fence_host(Fixed(FenceResult.proven(RESET, "cycled")), HOST, "reset", after(5),
                        still_alive=lambda d: xapi_alive(server.url, d).alive)
    assert result.verified


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
