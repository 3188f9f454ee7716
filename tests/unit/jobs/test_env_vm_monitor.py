"""vm_monitor on the fake Env: the sweep's Report, its clocks (starts, back-off, group delays), its alerts.

Why: the sweep is the safety net of VM protection; its decisions and its record must follow the Env's
clocks and go through the Env's alerts, so the same code runs on a dom0, in the simulator and here.
"""
from fake_env import FakeEnv

from halizard.core.model import HALTED, HostView, PoolView, VmView
from halizard.jobs import vm_monitor
from halizard.jobs.base import Outcome
from halizard.xapi.errors import XapiFailure
from halizard.xapi.observe import Refs, Snapshot

POOL_HA = {"XenCenter.CustomFields.ha-lizard-enabled": "true"}


def _snapshot(env, vms, ha_field="true"):
    hosts = (HostView("h1", "host1", ref="OpaqueRef:h1", is_master=True, memory_free=8 << 30),
             HostView("h2", "host2", ref="OpaqueRef:h2", memory_free=8 << 30))
    pool = PoolView("pool-1", "h1", hosts, vms=tuple(vms), ha_field=ha_field)
    refs = Refs({v.uuid: "OpaqueRef:" + v.uuid for v in vms}, {h.uuid: h.ref for h in hosts}, {})
    return Snapshot(pool, refs, {"h1", "h2"}, "OpaqueRef:pool", env.clock.wall())


def _vm(uuid, order=0, start_delay=0):
    return VmView(uuid, uuid, power_state=HALTED, ha_field="true", home_pool="pool-1", memory=1 << 30, order=order,
                  start_delay=start_delay)


def _read(env, vms, **answers):
    env.answers = dict({"VM.start_on": ""}, **answers)
    return vm_monitor.PoolRead(env.connect(), _snapshot(env, vms), env.effective(pool_other_config={}))


def test_a_halted_protected_vm_is_started_and_recorded_at_the_envs_time(tmp_path):
    env = FakeEnv(tmp_path, "vm_monitor")
    read = _read(env, [_vm("vm1")])
    report = vm_monitor.protect(env, read, True)
    assert report["started"] == ["vm1"] and report["at"] == env.clock.wall()
    assert [c[0] for c in read.session.calls] == ["VM.start_on"]
    assert env.state.read(vm_monitor.REPORT_STATE)["started"] == ["vm1"]
    assert vm_monitor.sweep_report(report)[:2] == (Outcome.DONE, "VM sweep: started 1, failed 0, declined 0")


def test_groups_wait_on_the_envs_clock_and_stop_at_the_deadline(tmp_path):
    env = FakeEnv(tmp_path, "vm_monitor")
    read = _read(env, [_vm("vm1", order=1, start_delay=7), _vm("vm2", order=2)])
    report = vm_monitor.protect(env, read, True)
    assert report["started"] == ["vm1", "vm2"] and env.clock.slept == [7.0]
    env = FakeEnv(tmp_path / "late", "vm_monitor")
    read = _read(env, [_vm("vm1", order=1, start_delay=7), _vm("vm2", order=2)])
    report = vm_monitor.protect(env, read, True, vm_monitor.How(deadline=env.clock.wall() + 3))
    assert report["started"] == ["vm1"] and env.clock.slept == [3.0]   # the pause ends at the deadline
    assert "left for the next run" in env.log.at("WARNING")[-1]


def test_a_failing_start_backs_off_from_the_envs_clock_and_alerts_through_the_env(tmp_path):
    env = FakeEnv(tmp_path, "vm_monitor")

    def refuse(*_args):
        raise XapiFailure("VM.start_on", ["NO_HOSTS_AVAILABLE"])

    for _attempt in range(6):
        read = _read(env, [_vm("vm1")], **{"VM.start_on": refuse})
        retry = vm_monitor.load_retry(env.state).get("vm1")
        if retry is not None:
            env.clock.now_wall = retry.next_attempt_at   # the back-off says when to try again
        report = vm_monitor.protect(env, read, True)
    retry = vm_monitor.load_retry(env.state)["vm1"]
    assert retry.next_attempt_at > env.clock.wall() and retry.failures >= 2
    assert [a[0] for a in env.alerts] and all("vm1" in a[1] for a in env.alerts)
    assert len(env.alerts) == 1   # once for a VM that keeps failing
    assert vm_monitor.sweep_report(report)[:2] == (Outcome.DEGRADED, "VM sweep: started 0, failed 1, declined 0")


def test_the_sweep_is_idle_on_a_slave_without_slave_vm_stat_and_fails_when_the_master_is_silent(tmp_path):
    env = FakeEnv(tmp_path, "vm_monitor", config={"SLAVE_VM_STAT": "0"})
    env.pool_role = "slave"
    report = vm_monitor.run(env)
    assert report.outcome is Outcome.IDLE and "SLAVE_VM_STAT" in report.text
    env.pool_role = "master"
    report = vm_monitor.run(env)   # env.answers is None: a silent master
    assert report.outcome is Outcome.FAILED and "could not be read (XapiUnreachable)" in report.text


def test_the_sweep_reports_what_it_started_and_logs_out(tmp_path, monkeypatch):
    env = FakeEnv(tmp_path, "vm_monitor")
    read = _read(env, [_vm("vm1")])
    checked = []
    monkeypatch.setattr(vm_monitor, "connect_and_read", lambda env_, timeout, read_wait: read)
    monkeypatch.setattr(vm_monitor.whatif, "check", lambda *args: checked.append(args[5]))
    report = vm_monitor.run(env)
    assert (report.outcome, report.text) == (Outcome.DONE, "VM sweep: started 1, failed 0, declined 0")
    assert read.session.logged_out and checked == [env.clock.wall()]


def test_pool_ha_off_leaves_the_sweep_idle_with_the_reason(tmp_path):
    env = FakeEnv(tmp_path, "vm_monitor")
    env.answers = {}
    read = vm_monitor.PoolRead(env.connect(), _snapshot(env, [_vm("vm1")], ha_field="false"),
                               env.effective(pool_other_config={}))
    report = vm_monitor.sweep_report(vm_monitor.protect(env, read, True))
    assert (report.outcome, report.text) == (Outcome.IDLE, "VM sweep idle: HA is disabled for the pool")
    assert read.session.calls == []


FIELD_KEY = "XenCenter.CustomFields.ha-lizard-enabled"


def _invalid_field_round(tmp_path, field_now):
    """The master's sweep over a VM whose HA field it read as 'yes'; XAPI holds `field_now` at the write."""
    env = FakeEnv(tmp_path, "vm_monitor", config={"GLOBAL_VM_HA": "0"})
    vm = VmView("vm1", "vm1", power_state=HALTED, ha_field="yes", home_pool="pool-1", memory=1 << 30)
    read = _read(env, [vm], **{"VM.get_other_config": {FIELD_KEY: field_now}, "VM.add_to_other_config": "",
                               "VM.remove_from_other_config": ""})
    vm_monitor.protect(env, read, True)
    return env, read


def test_the_invalid_field_alert_goes_out_with_the_reset_that_wrote_it(tmp_path):
    env, read = _invalid_field_round(tmp_path, "yes")
    assert "VM.add_to_other_config" in [c[0] for c in read.session.calls]
    assert [a[0] for a in env.alerts] == ["check_vm_field"]


def test_no_invalid_field_alert_when_another_round_already_reset_the_field(tmp_path):
    """The sweep and the event executor can both read 'yes' before either resets it: the second finds
    'false' at its write and leaves it; before, it alerted a second time for the same value."""
    env, read = _invalid_field_round(tmp_path, "false")
    assert "VM.add_to_other_config" not in [c[0] for c in read.session.calls]
    assert env.alerts == []
