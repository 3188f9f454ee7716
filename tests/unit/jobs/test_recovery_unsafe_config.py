"""An unsafe configuration (EffectiveConfig.policy() raises UnsafeConfig): takeover and VM protection refuse.

Why: with SELF_FENCE_WAIT shorter than the self-fence deadline, a restart
could run a VM an isolated host still runs. The jobs must not fence or
start anything, say why in one ERROR line (not one per cycle), and keep
running; once the configuration is safe they act again.
"""

from halizard.config import refusal
from halizard.config.effective import build_effective
from halizard.core import quorum
from halizard.core import takeover as core
from halizard.core.health import ProbeResult
from halizard.core.model import RUNNING, HostView, PoolView, VmView
from halizard.jobs import takeover, vm_monitor
from halizard.jobs.base import Env as JobEnv
from halizard.statefiles import StateStore
from recording_log import RecordingLog

SAFE = {"HA_XE_TIMEOUT": "5", "HA_MONITOR_DELAY": "2", "HA_XAPI_COUNT": "2", "HA_XAPI_DELAY": "1",
        "HA_FENCE_METHOD": "XVM", "HA_FENCE_IPADDRESS": "127.0.0.1"}
UNSAFE = dict(SAFE, HA_SELF_FENCE_WAIT="1")


def _pool():
    hosts = (HostView("m", "host1", ref="OpaqueRef:m", address="127.0.0.1", is_master=True),
             HostView("s1", "host2", ref="OpaqueRef:s1", address="127.0.0.2"),
             HostView("s2", "host3", ref="OpaqueRef:s2", address="127.0.0.3"))
    return PoolView("p", "m", hosts, vms=(VmView("v1", "vm1", RUNNING, resident_on="m"),),
                    autopromote_uuid="s1")


def _env(tmp_path, other, log):
    config = build_effective(other, {}, hostname="host2")
    store = StateStore(str(tmp_path))
    job = JobEnv(str(tmp_path), "master_watch", state=store, log=log)
    return takeover.Env(job, config, vm_monitor.policy_of(config), "s1", "127.0.0.2"), store


def _inputs():
    silent = ProbeResult(tries=2, xapi_ok=False, network_ok=False, first_failure_at=0.0)
    return core.TakeoverInputs(self_uuid="s1", pool=_pool(), master_probe=silent,
                               quorum=quorum.QuorumResult(2, 3, True, False, False, "2 of 3"), autopromote="s1")


def test_takeover_refuses_to_fence_with_an_unsafe_configuration(tmp_path):
    log = RecordingLog()
    env, store = _env(tmp_path, UNSAFE, log)
    final = takeover.drive(env, _inputs(), core.TakeoverState())
    assert final.phase == core.IDLE
    assert store.read(takeover.STATE, None) is None  # no step taken, nothing fenced
    errors = log.at("ERROR")
    assert len(errors) == 1 and "refused" in errors[0] and "SELF_FENCE_WAIT" in errors[0]
    takeover.drive(env, _inputs(), core.TakeoverState())  # the next cycle: no second ERROR line
    assert len(log.at("ERROR")) == 1


def test_a_takeover_past_the_transition_restarts_nothing_with_an_unsafe_configuration(tmp_path):
    log = RecordingLog()
    env, store = _env(tmp_path, UNSAFE, log)
    state = core.TakeoverState(phase=core.RESTART, master_uuid="m", fence_outcome="verified", proof="fenced")
    final = takeover.drive(env, _inputs(), state)
    assert final.phase == core.DONE  # the sequence ends; vm_monitor refuses as well until the config is safe
    assert any("not restarted" in t and "SELF_FENCE_WAIT" in t for t in log.at("ERROR"))


def test_vm_protection_refuses_once_then_acts_again(tmp_path):
    log = RecordingLog()
    store = StateStore(str(tmp_path))
    unsafe = build_effective(UNSAFE, {}, hostname="host1")
    policy, why = vm_monitor.safe_policy(unsafe, store, log)
    assert policy is None and "SELF_FENCE_WAIT" in why
    assert vm_monitor.safe_policy(unsafe, store, log)[0] is None
    assert len(log.at("ERROR")) == 1
    policy, why = vm_monitor.safe_policy(build_effective(SAFE, {}, hostname="host1"), store, log)
    assert policy is not None and why is None and policy.XE_TIMEOUT == 5
    assert "VM protection" not in (store.read(refusal.STATE, {}) or {})
    assert any("acts again" in t for t in log.at("INFO"))


def test_the_vm_action_lock_tells_waiters_and_stale_readers(tmp_path):
    """A VM job waits for a holder before reading, and a view read before a holder acted is stale."""
    import time

    holder = vm_monitor.ActionLock(None, directory=str(tmp_path))
    waiter = vm_monitor.ActionLock(None, directory=str(tmp_path))
    assert holder.acquire()
    assert not waiter.wait_free(0.2)
    read_at = time.time() - 1.0  # a read a second ago: the holder's action is strictly after it, whatever the mtime resolution
    holder.release(acted=True)
    assert waiter.changed_since(read_at)
    assert waiter.wait_free(0.2) and holder.acquire(0)  # free, and the waiter holds nothing afterwards
    holder.release()
    later = time.time() + 1.0
    assert not waiter.changed_since(later)
