"""The jobs that read the pool once per run, on the fake Env: zombies, ops_report, pool_state, autoselect."""
import os

from fake_env import FakeEnv

from halizard.core.actions import DestroyDomain
from halizard.jobs import autoselect, ops_report, pool_state, zombies
from halizard.jobs.base import Outcome


def test_zombies_without_uuid_or_domains_or_master(tmp_path):
    env = FakeEnv(tmp_path, "zombies")
    env.uuid = None
    assert zombies.run(env).outcome is Outcome.FAILED
    env.uuid = "h1"
    report = zombies.run(env)
    assert report.outcome is Outcome.IDLE and env.sessions == []   # nothing runs here: the pool is not asked
    env.platform.domains.add("vm1")
    report = zombies.run(env)
    assert report.outcome is Outcome.SKIPPED and "does not answer (XapiUnreachable)" in report.text
    env.platform.error = "xl list failed"
    assert zombies.run(env).text == "zombie check impossible: local domains unknown (xl list failed)"


def test_zombies_destroys_a_confirmed_zombie_and_logs_out(tmp_path, monkeypatch):
    env = FakeEnv(tmp_path, "zombies")
    env.platform.domains.update({"vm1", "vm2"})
    env.answers = {}
    found = [DestroyDomain(vm_uuid="vm1", why="runs on h2"), DestroyDomain(vm_uuid="vm2", why="runs on h3")]
    monkeypatch.setattr(zombies, "find_zombies", lambda platform, session, key, me, view=None: (found, None))
    monkeypatch.setattr(zombies, "still_zombie", lambda platform, session, snap, vm, me: vm == "vm1")
    report = zombies.run(env)
    assert (report.outcome, report.text) == (Outcome.DONE, "1 zombie domain(s) destroyed")
    assert env.platform.destroyed == ["vm1"] and env.sessions[0].logged_out
    assert env.log.at("WARNING") == ["zombie domain of vm1 destroyed: runs on h2"]


def test_ops_report_writes_metrics_even_when_the_master_is_silent(tmp_path):
    path = str(tmp_path / "metrics.prom")
    env = FakeEnv(tmp_path, "ops_report", config={"METRICS_FILE": path})
    report = ops_report.run(env)
    assert report.outcome is Outcome.SKIPPED and "the pool does not answer" in report.text
    assert os.path.exists(path)


def test_ops_report_publishes_the_journal_on_this_hosts_record(tmp_path, monkeypatch):
    from halizard.ops import journal

    published = []
    monkeypatch.setattr(journal, "publish", lambda session, ref, entries, name: published.append((ref, name)))
    env = FakeEnv(tmp_path, "ops_report")
    env.answers = {"host.get_by_uuid": "OpaqueRef:h1", "host.get_name_label": "host1"}
    report = ops_report.run(env)
    assert (report.outcome, report.text) == (Outcome.QUIET, "no metrics file; journal published")
    assert published == [("OpaqueRef:h1", "host1")] and env.sessions[0].logged_out


def test_ops_report_asks_the_pool_nothing_while_the_journal_is_unchanged(tmp_path, monkeypatch):
    """Failed before: every cycle looked the host up and read its record (three calls on every host) only
    to find the copy unchanged. Now: a new entry, or an hour, brings the next copy."""
    from halizard.ops import journal

    published = []
    monkeypatch.setattr(journal, "publish", lambda session, ref, entries, name: published.append(len(entries)))
    env = FakeEnv(tmp_path, "ops_report")
    env.answers = {"host.get_by_uuid": "OpaqueRef:h1", "host.get_name_label": "host1"}
    assert ops_report.run(env).text == "no metrics file; journal published"
    env.clock.advance(15)
    report = ops_report.run(env)
    assert (report.outcome, report.text) == (Outcome.QUIET, "no metrics file; journal unchanged since it was published")
    assert len(env.sessions) == 1, "no session for an unchanged journal"
    journal.record(env.state, "fenced", "test", subject="host2", now=env.clock.wall())
    assert ops_report.run(env).text.endswith("journal published") and published == [0, 1]
    env.clock.advance(journal.REPUBLISH_SECONDS)
    assert ops_report.run(env).text.endswith("journal published") and published == [0, 1, 1]
    posted = []  # alerts switched on with a decision not posted yet: posted though the copy is unchanged
    monkeypatch.setattr(journal, "post_messages", lambda session, state, uuid: posted.append(uuid))
    env._config["ENABLE_ALERTS"] = "1"
    assert ops_report.run(env).text.endswith("journal published") and posted == ["h1"]
    env.answers = None  # the master goes silent: the next cycle tries again
    journal.record(env.state, "fenced", "test", subject="host3", now=env.clock.wall())
    assert "journal not published" in ops_report.run(env).text
    assert journal.publish_due(env.state, journal.read(env.state)[0], env.clock.wall())


POOL = {
    "pool.get_all_records": {"OpaqueRef:p": {"uuid": "pool-1", "master": "OpaqueRef:h1"}},
    "host.get_all_records": {"OpaqueRef:h1": {"uuid": "h1", "name_label": "host1", "enabled": True}},
    # this host acknowledges the membership epoch it read (jobs.membership.acknowledge)
    "host.get_by_uuid": "OpaqueRef:h1",
    "host.remove_from_other_config": None,
    "host.add_to_other_config": None,
    "VM.get_all_records": {"OpaqueRef:v1": {"uuid": "vm1", "name_label": "vm001", "power_state": "Running",
                                            "resident_on": "OpaqueRef:h1"},
                           "OpaqueRef:d0": {"uuid": "dom0", "is_control_domain": True}},
}


def test_pool_state_keeps_the_cache_when_silent_and_refreshes_it_with_the_envs_time(tmp_path, monkeypatch):
    # whole reads here; the event-driven view is proven in tests/sim/test_pool_view.py
    monkeypatch.setattr(pool_state, "watch", lambda root, store, log, full_timeout=None: None)
    env = FakeEnv(tmp_path, "pool_state")
    report = pool_state.run(env)
    assert report.outcome is Outcome.FAILED and env.state.read(pool_state.POOL_VIEW) is None
    env.answers = POOL
    env.clock.advance(60)
    report = pool_state.run(env)
    assert report.outcome is Outcome.DONE and report.text.startswith("pool view refreshed: 1 hosts, 1 VMs")
    view = env.state.read(pool_state.POOL_VIEW)
    assert view["observed"] == env.clock.wall() and view["master"] == "h1"
    assert [v["resident_on"] for v in view["vms"]] == ["h1"]


def test_autoselect_records_a_new_value_once(tmp_path):
    env = FakeEnv(tmp_path, "autoselect")
    assert autoselect.run(env).outcome is Outcome.SKIPPED
    env.answers = {"pool.get_all": ["OpaqueRef:p"], "pool.get_other_config": {"autopromote_uuid": "h2"}}
    report = autoselect.run(env)
    assert (report.outcome, report.text) == (Outcome.DONE, "autopromote is now h2")
    assert env.state.read(autoselect.STATE) == {"value": "h2", "source": "pool", "at": env.clock.wall()}
    assert autoselect.run(env).outcome is Outcome.IDLE
    assert all(s.logged_out for s in env.sessions)
