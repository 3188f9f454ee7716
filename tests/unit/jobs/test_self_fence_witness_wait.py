"""The self_fence job waits for a dead holder's witness vote from when its quorum loss began to
threaten (issue 14: the POOL cascade with a witness lost the last host's VMs in 3 of 5 runs)."""
from fake_env import FakeEnv

from halizard.config import schema
from halizard.core import witness as rule
from halizard.jobs import self_fence, witness

HA_KEY = schema.xc_field_key(schema.PARAMETERS["XC_FIELD_NAME"].default)
ADDRESS = "127.0.0.1:5405"


def _view(env, enabled):
    env.state.write("pool-view", {"hosts": [{"uuid": u, "address": "127.0.0.1", "enabled": u in enabled}
                                            for u in ("h1", "h2", "h3")]})


def _lease_of_h1(env, renewed_at):
    """host2's record of its last refusal: h1 holds the vote, renewed at `renewed_at` (monotonic)."""
    env.state.write(witness.STATE, {"address": ADDRESS, "holder": "h1", "why": "the vote is leased to h1",
                                    "answered": True, "held_until": None, "held_until_wall": None,
                                    "alerted": False, "free_at": renewed_at + 4.0 + rule.MARGIN,
                                    "renewed_at": renewed_at})


def test_a_loss_that_threatened_nothing_does_not_date_the_wait_for_a_dead_holder_s_vote(tmp_path, monkeypatch):
    """3 hosts and a witness: h3 died, so h2 reaching h1 counted 2 of 4 votes (no quorum, and nobody
    else could win) for many checks while h1 kept renewing its lease. Then h3 left the vote count (its
    exclusion) and h1, the holder, died: h2 has 1 of 3 and must wait for h1's vote, which frees after
    h1's last lease. It self-fenced at once before: its loss dated from h3's death and h1 had renewed
    since, so the wait saw a holder that renews."""
    env = FakeEnv(tmp_path, "self_fence")
    env.uuid, env.pool_role = "h2", "slave"
    env.cached = ("pool-1", {HA_KEY: "true", "HA_WITNESS_ADDRESS": ADDRESS, "HA_WITNESS_SECRET": "s"})
    env.platform.domains = {"vm-a"}
    reach = {"h1": True, "h3": False}
    monkeypatch.setattr(self_fence, "_probe_all", lambda platform, policy, peers, seconds: (
        {u: reach[u] for u, _address in peers}, None))
    reader, stored = self_fence.Reader(env), {}
    _view(env, {"h1", "h2", "h3"})
    for _ in range(10):  # h3 dead, not excluded yet; h1 renews every second
        _lease_of_h1(env, env.clock.monotonic())
        stored, _interval, _bound = self_fence.check(env, reader, stored)
        env.clock.advance(1.0)
    assert stored["quorum"]["has_quorum"] is False and stored["stopping_since"] is None
    _lease_of_h1(env, env.clock.monotonic() - 0.5)  # h1's last renewal, just before it died
    _view(env, {"h1", "h2"})
    reach["h1"] = False
    for _ in range(int(4.0 + rule.MARGIN)):  # until h1's vote frees, h2 waits with its VMs running
        stored, _interval, _bound = self_fence.check(env, reader, stored)
        assert stored["stopping_since"] is None and env.platform.destroyed == [], stored["why"]
        env.clock.advance(1.0)
    env.clock.advance(rule.vote_wait(4.0))  # nobody gave h2 the vote: it self-fences all the same
    stored, _interval, _bound = self_fence.check(env, reader, stored)
    assert stored["stopping_since"] is not None and env.platform.destroyed == ["vm-a"]
