"""Once a host has judged itself isolated, its self-fence ends in "nothing runs here" or in the reboot.

The self_fence job's real check (_judge / check) on a throw-away host root with a real state store and
real TCP probes to closed loopback ports (the peers are unreachable). The platform is a recording
stand-in: the simulator has no fault that makes `xl list` fail or hang, which is what these tests need.
"""
import threading
import time

import pytest

from halizard.config import cache, schema
from halizard.config.effective import POOL_CACHE
from halizard.core import timing
from halizard.core.policy import Policy
from halizard.jobs import self_fence
from halizard.jobs.base import Clocks, JobContext
from halizard.platform.base import Platform, PlatformError, ProbeTarget
from halizard.probes import clock as real_clock

HOSTS = [{"uuid": u, "address": "127.0.0.1", "enabled": True} for u in ("h1", "h2", "h3")]
ISOLATED = {"lost_rounds": 10, "boot": real_clock.boot_id()}   # quorum lost for many checks already
HA_KEY = schema.xc_field_key(schema.PARAMETERS["XC_FIELD_NAME"].default)


class FakeClock(Clocks):
    """The job's boot clock, stepped by the test (env.clock.boot() time); the boot id is this machine's."""

    def __init__(self, at=1000.0):
        self.at = at

    def boot(self):
        return self.at


class RecordingPlatform(Platform):
    """Peers on a closed loopback port (unreachable); records destroys and reboots."""

    def __init__(self, domains=("vm-a", "vm-b"), list_fails=False, list_hangs=False, destroy_hangs=False,
                 destroy_fails=False, reboot_fails=0):
        self.domains = list(domains)
        self.list_fails, self.list_hangs, self.destroy_hangs = list_fails, list_hangs, destroy_hangs
        self.destroy_fails = destroy_fails
        self.reboot_fails = reboot_fails
        self.destroyed, self.reboots, self.release = [], 0, threading.Event()

    def source_address(self):
        return None

    def probe_target(self, address):
        return ProbeTarget(address=address, method="tcp", port=9, expect=b"")

    def local_domains(self):
        if self.list_hangs:
            self.release.wait(30)
        if self.list_fails:
            raise PlatformError("xl exited 1: libxl: cannot list domains")
        return list(self.domains)

    def destroy_domain(self, vm_uuid):
        if self.destroy_hangs:
            self.release.wait(30)
            raise PlatformError("xl did not finish within 30 s")
        if self.destroy_fails:
            raise PlatformError("xl exited 1: domain busy")
        self.destroyed.append(vm_uuid)
        self.domains.remove(vm_uuid)

    def reboot(self):
        self.reboots += 1
        if self.reboot_fails >= self.reboots:
            raise PlatformError("reboot exited 1")


@pytest.fixture
def fake():
    return FakeClock()


def _env(root, platform, clock=None):
    """The job's Env on `root`: this platform, the stepped clock (or the real one)."""
    env = JobContext(root, "self_fence")
    env._platform = platform
    if clock is not None:
        env.clock = clock
    return env


def _judge(root, platform, stored, policy, clock=None):
    env = _env(root, platform, clock)
    return self_fence._judge(env, self_fence.Reader(env), self_fence.Seen("slave", "h1", HOSTS), policy, stored)


def test_domains_that_cannot_be_listed_end_in_the_reboot_at_the_stop_deadline(tmp_path, fake):
    # failed before: PlatformError from local_domains left the check, nothing was stopped, no reboot ever
    policy = Policy(SELF_FENCE_STOP_TIMEOUT=30)
    platform = RecordingPlatform(list_fails=True)
    stored = _judge(str(tmp_path), platform, dict(ISOLATED), policy, fake)
    assert stored["stopping_since"] == 1000.0, "an isolated host that cannot see its domains is self-fencing"
    assert platform.reboots == 0
    fake.at = 1000.0 + 29.0
    stored = _judge(str(tmp_path), platform, stored, policy, fake)
    assert platform.reboots == 0, "the domains are tried again until the stop deadline"
    fake.at = 1000.0 + 30.0
    stored = _judge(str(tmp_path), platform, stored, policy, fake)
    assert platform.reboots == 1 and stored["reboot_requested"]


def test_a_hung_domain_list_counts_as_running_and_never_holds_the_check(tmp_path, fake):
    policy = Policy(SELF_FENCE_STOP_TIMEOUT=30)
    platform = RecordingPlatform(list_hangs=True)
    try:
        began = time.monotonic()
        stored = _judge(str(tmp_path), platform, dict(ISOLATED), policy, fake)
        took = time.monotonic() - began
        assert took < self_fence._check_bound(policy) + self_fence.LIST_SECONDS + 1.0, took
        assert stored["stopping_since"] == 1000.0
        fake.at += 30.0
        _judge(str(tmp_path), platform, stored, policy, fake)
        assert platform.reboots == 1
    finally:
        platform.release.set()


def test_domains_stop_at_once_and_the_reboot_comes_at_the_stop_deadline(tmp_path):
    # failed before: one `xl destroy` after another (each up to 30 s), the reboot only in a later check
    policy = Policy(SELF_FENCE_STOP_TIMEOUT=2)
    platform = RecordingPlatform(domains=("vm-a", "vm-b", "vm-c"), destroy_hangs=True)
    try:
        began = time.monotonic()
        stored = _judge(str(tmp_path), platform, dict(ISOLATED), policy)
        took = time.monotonic() - began
    finally:
        platform.release.set()
    assert platform.reboots == 1 and stored["reboot_requested"], "rebooted in the same check"
    assert 1.5 <= took < 2.0 + self_fence._check_bound(policy), took   # at the deadline, not 3 x 30 s


def test_a_failed_reboot_is_asked_again_at_the_next_check(tmp_path, fake):
    policy = Policy(SELF_FENCE_STOP_TIMEOUT=30)
    platform = RecordingPlatform(list_fails=True, reboot_fails=1)
    stored = _judge(str(tmp_path), platform, dict(ISOLATED), policy, fake)
    fake.at += 30.0
    stored = _judge(str(tmp_path), platform, stored, policy, fake)
    assert platform.reboots == 1 and not stored["reboot_requested"]
    fake.at += 1.0
    _judge(str(tmp_path), platform, stored, policy, fake)
    assert platform.reboots == 2


def _pool(root, **values):
    other = {HA_KEY: "true"}
    other.update({"HA_" + k: str(v) for k, v in values.items()})
    cache.write_json(root, POOL_CACHE, {"pool_uuid": "p-1", "other_config": other})


@pytest.mark.parametrize("change", ["unsafe", "ha-off", "no-pool-view"])
def test_nothing_cancels_a_self_fence_in_progress(tmp_path, fake, change):
    # failed before: the job refused (or returned) and left the domains running, with no reboot
    root = str(tmp_path)
    if change == "unsafe":
        _pool(root, SELF_FENCE_WAIT=int(timing.minimum_wait(Policy())))
    elif change == "ha-off":
        cache.write_json(root, POOL_CACHE, {"pool_uuid": "p-1", "other_config": {HA_KEY: "false"}})
    else:
        _pool(root)
    platform = RecordingPlatform(destroy_fails=True)
    ctx = _env(root, platform, fake)
    reader = self_fence.Reader(ctx)
    stored = dict(ISOLATED, stopping_since=1000.0, stop_timeout=30.0)
    stored, _interval, _bound = self_fence.check(ctx, reader, stored)
    assert stored.get("stopping_since") == 1000.0 and platform.reboots == 0
    fake.at = 1030.0
    stored, _interval, _bound = self_fence.check(ctx, reader, stored)
    assert platform.reboots == 1, "the self-fence went on to the reboot"
    assert ctx.state.read(self_fence.STATE, {}).get("stopping_since") == 1000.0


def test_a_self_fence_held_by_an_unsafe_configuration_stays_fenced_once_nothing_runs(tmp_path, fake):
    root = str(tmp_path)
    _pool(root, SELF_FENCE_WAIT=int(timing.minimum_wait(Policy())))
    platform = RecordingPlatform()
    ctx = _env(root, platform, fake)
    reader = self_fence.Reader(ctx)
    stored, _i, _b = self_fence.check(ctx, reader, dict(ISOLATED, stopping_since=1000.0, stop_timeout=30.0))
    assert sorted(platform.destroyed) == ["vm-a", "vm-b"]
    stored, _i, _b = self_fence.check(ctx, reader, stored)
    assert stored["stopping_since"] == 1000.0 and self_fence.is_self_fencing(ctx.state)
    assert platform.reboots == 0
