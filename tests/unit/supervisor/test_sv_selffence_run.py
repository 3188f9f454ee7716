"""The self_fence job's loop, run in this process on a throw-away host root.

Real configuration files and state store; the only stand-in is a spy that
records when each check ran (it calls the real check).
"""
import time

import pytest
from loguru import logger

from halizard.config import cache, refusal, schema
from halizard.config.effective import POOL_CACHE
from halizard.core import timing
from halizard.core.policy import Policy
from halizard.jobs import self_fence
from halizard.jobs.base import JobContext

HA_KEY = schema.xc_field_key(schema.PARAMETERS["XC_FIELD_NAME"].default)


def _pool(root, **values):
    other = {HA_KEY: "true"}
    other.update({"HA_" + k: str(v) for k, v in values.items()})
    cache.write_json(root, POOL_CACHE, {"pool_uuid": "p-1", "other_config": other})


@pytest.fixture
def lines():
    seen = []
    sink = logger.add(lambda message: seen.append(str(message).strip()), format="{level} {message}",
                      level="DEBUG")
    yield seen
    logger.remove(sink)


def _run(root, seconds, spy=None, monkeypatch=None):
    """One self_fence run whose deadline is `seconds` away; returns (check times, when it returned)."""
    times = []
    if monkeypatch is not None:
        real = self_fence.check

        def recording(ctx, reader, stored):
            times.append(time.time())
            return real(ctx, reader, stored)
        monkeypatch.setattr(self_fence, "check", recording)
    ctx = JobContext(root, "self_fence", deadline=time.time() + seconds)
    self_fence.run(ctx)
    return times, time.time(), ctx.deadline


def test_one_run_checks_every_interval_and_ends_before_its_deadline(tmp_path, monkeypatch):
    times, returned, deadline = _run(str(tmp_path), 4.0, monkeypatch=monkeypatch)
    assert len(times) >= 2, "a run checks more than once"
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(0.9 <= g <= 2.5 for g in gaps), gaps   # SELF_FENCE_CHECK_INTERVAL=1 (generous upper bound)
    assert returned < deadline, "it ends by itself, never at the supervisor's kill"
    # it ends only when the next check would not fit: the next run takes over within one interval
    assert times[-1] + 1.0 + 1.0 > deadline - self_fence.END_MARGIN - 0.01


def test_the_interval_comes_from_the_configuration(tmp_path, monkeypatch):
    _pool(str(tmp_path), SELF_FENCE_CHECK_INTERVAL=2)
    # HA on: a check may take up to 2 s of probes + slack (4 s), so a 7.5 s run has room for two checks
    times, _returned, _deadline = _run(str(tmp_path), 7.5, monkeypatch=monkeypatch)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps and all(1.9 <= g <= 3.5 for g in gaps), gaps


def test_without_a_deadline_a_run_is_one_check(tmp_path, monkeypatch):
    times = []
    real = self_fence.check
    monkeypatch.setattr(self_fence, "check", lambda *a: times.append(1) or real(*a))
    self_fence.run(JobContext(str(tmp_path), "self_fence"))
    assert times == [1]


def test_an_unsafe_configuration_is_refused_and_said_once(tmp_path, lines):
    root = str(tmp_path)
    minimum = timing.minimum_wait(Policy())
    _pool(root, SELF_FENCE_WAIT=int(minimum))
    _run(root, 3.2)
    _run(root, 2.2)  # the next run: the refusal is remembered in the state file
    refused = [line for line in lines if "self-fence refuses to act" in line and not line.startswith("DEBUG")]
    assert len(refused) == 1 and refused[0].startswith("ERROR") and "SELF_FENCE_WAIT" in refused[0]
    said = JobContext(root, "self_fence").state.read(refusal.STATE, {})
    assert "SELF_FENCE_WAIT" in said["self-fence"]
    assert not any("Traceback" in line for line in lines)

    _pool(root, SELF_FENCE_WAIT=int(minimum) + 1)
    _run(root, 1.2)
    assert sum("acts again" in line for line in lines) == 1
    assert "self-fence" not in JobContext(root, "self_fence").state.read(refusal.STATE, {})


def test_a_failing_check_is_said_once_and_the_loop_goes_on(tmp_path, lines, monkeypatch):
    calls = []

    def broken(ctx, reader, stored):
        calls.append(time.time())
        raise OSError("disk on fire")
    monkeypatch.setattr(self_fence, "check", broken)
    self_fence.run(JobContext(str(tmp_path), "self_fence", deadline=time.time() + 3.5))
    assert len(calls) >= 2
    assert sum("self-fence check failed" in line and "disk on fire" in line for line in lines) == 1


class _Platform:
    """This host's platform as the probes see it: real TCP probes to loopback listeners, each
    expecting the simulator's reply byte."""

    def source_address(self):
        return None

    def probe_target(self, address):
        from halizard.platform.base import ProbeTarget

        host, _, port = address.partition(":")
        return ProbeTarget(address=host, method="tcp", port=int(port), expect=b"+")


def _listener(reply):
    """A loopback listener answering `reply`, or (None) one that never answers: a frozen host."""
    from listeners import loopback_listener

    listener = loopback_listener(reply, answer=reply is not None)
    return listener, "127.0.0.1:%d" % listener.getsockname()[1]


def test_a_hung_probe_counts_as_not_answering_and_never_stalls_the_check():
    live, live_address = _listener(b"+")
    hung, hung_address = _listener(None)
    try:
        began = time.monotonic()
        reached, heuristics = self_fence._probe_all(_Platform(), Policy(),
                                                    [("up", live_address), ("hung", hung_address)], 0.5)
        took = time.monotonic() - began
    finally:
        live.close()
        hung.close()
    assert reached == {"up": True, "hung": False} and heuristics is None
    assert took < 0.5 + self_fence.PROBE_SLACK, took   # bounded by the probe's own deadline


class _BrokenProbes(_Platform):
    def probe_target(self, address):
        from halizard.platform.base import ProbeTarget

        return ProbeTarget(address=address, method="carrier-pigeon")   # cannot run: ProbeInputError


def test_an_own_probe_that_cannot_run_counts_as_not_reaching_the_peer():
    # failed before: a probe error counted as "reached", so a host that cannot probe never self-fenced
    reached, _heuristics = self_fence._probe_all(_BrokenProbes(), Policy(), [("p", "127.0.0.1")], 0.5)
    assert reached == {"p": False}
