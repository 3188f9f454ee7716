"""The peer query's answer (jobs.peer_answer, served by the `witness` loop job): what this host answers
(its master, the age of master_watch's last good read on this boot's clock) and a host that cannot
answer says why once, not every run."""
import os

from halizard import paths
from halizard.jobs import membership, peer_answer, witness
from halizard.jobs.base import Outcome

from fake_env import FakeEnv


def _env(tmp_path, pool_conf):
    env = FakeEnv(tmp_path, name="witness", config={"PEER_PORT": 9}, deadline=1800000000.0 + 30)
    target = paths.under(env.root, paths.POOL_CONF)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w") as handle:
        handle.write(pool_conf)
    return env


def test_a_slave_answers_the_age_of_its_last_good_read_of_the_master_it_follows(tmp_path):
    env = _env(tmp_path, "slave:127.0.0.3")
    assert peer_answer.answer_for(env) == ("h1", False, "127.0.0.3", None, True)  # never read in this boot
    peer_answer.note_read(env.state, env.clock.boot() - 2.5, "127.0.0.3", env.clock.boot_id())
    assert peer_answer.answer_for(env) == ("h1", False, "127.0.0.3", 2.5, True)
    env.clock.advance(10)
    assert peer_answer.answer_for(env)[3] == 12.5
    # a read of another master, or from another boot, says nothing of this one
    peer_answer.note_read(env.state, env.clock.boot(), "127.0.0.9", env.clock.boot_id())
    assert peer_answer.answer_for(env)[3] is None
    peer_answer.note_read(env.state, env.clock.boot(), "127.0.0.3", "another-boot")
    assert peer_answer.answer_for(env)[3] is None


def test_the_master_answers_that_it_is_the_master(tmp_path):
    assert peer_answer.answer_for(_env(tmp_path, "master")) == ("h1", True, "", None, True)


def test_a_host_whose_membership_copy_predates_this_run_answers_that_it_has_no_vote(tmp_path):
    """A host back from the dead (its copy read before its reboot) cannot take over: it says so, so
    that a peer which never read its exclusion does not wait for it (core.roles.takeover_candidate)."""
    env = _env(tmp_path, "slave:127.0.0.3")
    env.state.write(membership.STATE, {"text": "1 -", "run": ["an-earlier-boot", 1.0, 1]})
    assert peer_answer.answer_for(env)[4] is False
    membership.record(env.state, "1 -")  # read again in this run
    assert peer_answer.answer_for(env)[4] is True


def test_without_the_pool_secret_the_run_says_why_once_and_waits_out_its_deadline(tmp_path):
    env = _env(tmp_path, "slave:127.0.0.3")
    first = witness.run(env)
    assert first.outcome == Outcome.DEGRADED and "cannot read secret file" in first.text
    assert sum(env.clock.slept) >= 20  # paced by the witness rounds, no restart loop
    env.clock.now_wall, env.clock.slept = 1800000000.0, []
    again = witness.run(env)
    assert again.outcome == Outcome.IDLE and again.text == first.text  # said once


def test_a_failing_peer_server_never_costs_the_witness_rounds(tmp_path, monkeypatch):
    from halizard.peers import server

    class Broken(object):
        answered = 0

        def __init__(self, *args, **kwargs):
            pass

        def serve(self, end, clock):
            raise OSError("socket gone")

        def close(self):
            raise OSError("already closed")

    monkeypatch.setattr(server, "Responder", Broken)
    monkeypatch.setattr(peer_answer.wire, "pool_key", lambda root: b"key")
    env = _env(tmp_path, "slave:127.0.0.3")
    report = witness.run(env)
    assert "the peer query server failed (OSError)" in report.text
    assert sum(env.clock.slept) >= 20  # the witness rounds went on, paced by sleeps instead
