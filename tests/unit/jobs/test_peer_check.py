"""The check before a takeover (halizard.jobs.peer_check) with real datagrams on loopback: a step that
fences the master or issues the transition is held while a peer reached still reads the master, and
goes on once every peer lost it; said once (WARNING, one alert), and its end is said too."""
import os
import threading
import time

from halizard import paths
from halizard.core import actions as A
from halizard.core import takeover as core
from halizard.core.health import ProbeResult
from halizard.core.model import HostView, PoolView
from halizard.core.policy import Policy
from halizard.core.quorum import QuorumResult
from halizard.jobs import peer_check, takeover
from halizard.jobs.base import Env as JobEnv
from halizard.peers import server, wire
from halizard.probes import clock
from halizard.statefiles import StateStore

from recording_log import RecordingLog

POOL = PoolView(uuid="p", master_uuid="m", hosts=(
    HostView(uuid="m", address="127.0.0.3", is_master=True), HostView(uuid="s", address="127.0.0.1"),
    HostView(uuid="y", address="127.0.0.2")))


class Platform(object):
    def __init__(self, port):
        self.port = port

    def source_address(self):
        return None

    def peer_port(self, configured):
        return self.port


class Config(dict):
    def get(self, name, default=None):
        return dict.get(self, name, default)


def _root(tmp_path, secret="the-pool-secret"):
    root = str(tmp_path)
    if secret is not None:
        target = paths.under(root, paths.POOL_SECRET)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as handle:
            handle.write(secret)
    return root


def _env(root, port, log):
    """A takeover.Env over a job Env with the real clocks (the inputs' streak is on the boot clock)."""
    job = JobEnv(root, "master_watch", state=StateStore(root), log=log)
    job._platform = Platform(port)
    return takeover.Env(job, Config(PEER_PORT=694), Policy(XE_TIMEOUT=1.0), "y", "127.0.0.2")


def _peer(root, age):
    """Host s answers from 127.0.0.1: it follows the master at 127.0.0.3 and read it `age` s ago."""
    responder = server.Responder(wire.pool_key(root), "127.0.0.1", 0, lambda: ("s", False, "127.0.0.3", age, True))
    threading.Thread(target=responder.serve, args=(time.monotonic() + 5.0,), daemon=True).start()
    return responder


def _inputs(failing_since):
    probe = ProbeResult(tries=2, xapi_ok=False, network_ok=False, first_failure_at=failing_since)
    return core.TakeoverInputs(self_uuid="y", pool=POOL, master_probe=probe,
                               quorum=QuorumResult(2, 3, True, False, False, "2 of 3"), autopromote="y",
                               reachable=frozenset({"s"}))


FENCE = core.Step(core.TakeoverState(phase=core.FENCING, master_uuid="m"),
                  (A.FenceHost(why="t", host_uuid="m", fence_action="stop"),), "fencing the master")
TRANSITION = core.Step(core.TakeoverState(phase=core.TRANSITION, master_uuid="m"),
                       (A.EmergencyTransition(why="t"),), "taking over as master")


def test_a_peer_that_read_the_master_one_second_ago_holds_the_fence_and_the_transition(tmp_path, monkeypatch):
    root, log, alerts = _root(tmp_path), RecordingLog(), []
    monkeypatch.setattr(peer_check, "_alert", lambda env, text: alerts.append(text))
    responder = _peer(root, 1.0)
    try:
        env = _env(root, responder.sock.getsockname()[1], log)
        idle = core.TakeoverState()
        for step in (FENCE, TRANSITION, FENCE):
            held = peer_check.hold(env, _inputs(clock.now() - 60.0), idle, step)
            assert held.state == idle and held.actions == () and "read the master 1.0 s ago" in held.why
        assert len(log.at("WARNING")) == 1 and len(alerts) == 1  # said once, not every cycle
    finally:
        responder.close()


def test_every_peer_lost_the_master_too_lets_the_takeover_go_on_and_ends_the_hold(tmp_path, monkeypatch):
    root, log = _root(tmp_path), RecordingLog()
    monkeypatch.setattr(peer_check, "_alert", lambda env, text: None)
    responder = _peer(root, 65.0)
    try:
        env = _env(root, responder.sock.getsockname()[1], log)
        env.store.write(peer_check.HOLD, {"reason": "earlier"})
        assert peer_check.hold(env, _inputs(clock.now() - 60.0), core.TakeoverState(), FENCE) is FENCE
        assert env.store.read(peer_check.HOLD, None) is None
        assert any("no longer hold" in line for line in log.at("INFO"))
    finally:
        responder.close()


def test_a_silent_peer_or_no_pool_secret_holds_it(tmp_path, monkeypatch):
    monkeypatch.setattr(peer_check, "_alert", lambda env, text: None)
    root = _root(tmp_path)
    env = _env(root, 9, RecordingLog())  # nothing answers on port 9 of 127.0.0.1
    held = peer_check.hold(env, _inputs(clock.now() - 60.0), core.TakeoverState(), TRANSITION)
    assert held.actions == () and "did not answer" in held.why
    os.unlink(paths.under(root, paths.POOL_SECRET))
    held = peer_check.hold(env, _inputs(clock.now() - 60.0), core.TakeoverState(), TRANSITION)
    assert held.actions == () and "cannot be asked" in held.why


def test_steps_that_do_not_act_on_the_master_ask_nobody(tmp_path):
    env = _env(_root(tmp_path, secret=None), 9, RecordingLog())
    wait = core.Step(core.TakeoverState(phase=core.AWAIT_DEADLINE, master_uuid="m"),
                     (A.Wait(why="t", until=1.0),), "waiting")
    assert peer_check.hold(env, _inputs(0.0), core.TakeoverState(), wait) is wait
