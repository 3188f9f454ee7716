"""A wall-clock step (NTP, a resumed nested host) changes no interval of a proof: the self-fence wait W
and the self-fence's own link-loss tolerance are measured with clock.now (CLOCK_BOOTTIME).

The step is injected (time.time moved forward by an hour in this process); the real clock never
changes. Probes are real: TCP to a closed loopback port, a login to a closed loopback xapi URL.
"""
import time

import pytest

from halizard.core import fencing, quorum
from halizard.core.policy import Policy
from halizard.jobs import self_fence, slave_recovery, takeover
from halizard.jobs.base import Clocks, JobContext
from halizard.platform.base import ProbeTarget
from halizard.probes.parallel import Peer, Round, probe_peers

STEP = 3600.0
CLOSED = ProbeTarget(address="127.0.0.1", method="tcp", port=9, expect=b"")


@pytest.fixture
def step(monkeypatch):
    """Call it to move the wall clock of this process forward by STEP seconds."""
    real = time.time

    def forward():
        monkeypatch.setattr(time, "time", lambda: real() + STEP)
    return forward


def test_a_wall_clock_step_does_not_shorten_the_self_fence_wait(tmp_path, step):
    # failed before: first_failure_at and the deciding `now` were time.time(); the step proved death at once
    policy = Policy(XE_TIMEOUT=1, XAPI_COUNT=1)
    peer = Peer("h2", "127.0.0.1", target=CLOSED, xapi_address="http://127.0.0.1:9/")
    probe = probe_peers([peer], Round(1, 0, 1.0))["h2"]
    assert not probe.xapi_ok and probe.network_ok is False and probe.first_failure_at is not None
    majority = quorum.compute("h1", ["h1", "h2", "h3"], ["h3"], None, policy)
    step()
    rec = slave_recovery.Recovery(JobContext(str(tmp_path), "master_cycle"), None, None,
                                  slave_recovery.Cycle(None, policy, {}, majority, set(), 0.0))
    env = takeover.Env(JobContext(str(tmp_path), "master_watch"), None, policy, "h3", "127.0.0.3")
    for now in (rec.env.clock.boot(), env.clock.boot()):
        proof = fencing.deadline_proof(probe.as_core(), majority, policy, now)
        assert proof.possible and not proof.proven, proof.why


class _Unreachable:
    def source_address(self):
        return None

    def probe_target(self, address):
        return CLOSED

    def local_domains(self):
        return ["vm-a"]

    def destroy_domain(self, vm_uuid):
        raise AssertionError("a wall-clock step must not self-fence")


class _ReadsTimeNow(Clocks):
    """The Env's clocks with a wall clock that reads time.time at each call, so the step reaches the job."""

    @staticmethod
    def wall():
        return time.time()


def test_a_wall_clock_step_does_not_shorten_the_link_loss_tolerance(tmp_path, step):
    # failed before: link_down_since and now were time.time(); the step made the link "down for an hour"
    policy = Policy(MGT_LINK_LOSS_TOLERANCE=5, XAPI_COUNT=5, FENCE_HEURISTICS_IPS=("127.0.0.1",))
    hosts = [{"uuid": u, "address": "127.0.0.1", "enabled": True} for u in ("h1", "h2", "h3")]
    ctx = JobContext(str(tmp_path), "self_fence")
    ctx.clock, ctx._platform = _ReadsTimeNow(), _Unreachable()
    seen = self_fence.Seen("slave", "h1", hosts)
    stored = self_fence._judge(ctx, self_fence.Reader(ctx), seen, policy, {})
    assert stored["link_down_since"] is not None and stored["stopping_since"] is None
    step()
    stored = self_fence._judge(ctx, self_fence.Reader(ctx), seen, policy, stored)
    assert stored["stopping_since"] is None, stored["why"]
