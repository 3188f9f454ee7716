"""The 200-VM benchmark's allowance: what VM_START_CONCURRENCY permits for the plan's start groups.

Why: the first version counted ceil(200 / limit) rounds and ignored the
order groups the simulated appliance adds; these pin the arithmetic.
"""
import importlib.util
import os

import pytest

PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "benchmarks", "bench_vm_protection.py")
_spec = importlib.util.spec_from_file_location("bench_vm_protection", PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def vm(order=0, delay=0, priority="restart"):
    return {"order": str(order), "start_delay": str(delay), "ha_restart_priority": priority}


def test_simulated_pool_with_appliance_has_three_groups():
    # spec.py: vm001..vm003 form the appliance with orders 0, 1, 2; every other VM has order 0
    records = [vm(i) for i in range(3)] + [vm(0) for _ in range(197)]
    groups = bench.start_groups(records)
    assert groups == [(198, 0), (1, 0), (1, 0)]
    assert bench.allowance(groups, 16, 1.0) == 13 + 1 + 1


def test_flat_pool_is_ceil_n_over_limit():
    assert bench.allowance(bench.start_groups([vm() for _ in range(200)]), 16, 1.0) == 13
    assert bench.allowance([(16, 0)], 16, 2.0) == 2.0
    assert bench.allowance([(17, 0)], 16, 2.0) == 4.0


def test_delays_between_groups_count_but_not_after_the_last():
    records = [vm(0, delay=5), vm(0, delay=3), vm(1, delay=7)]
    groups = bench.start_groups(records)
    assert groups == [(2, 5), (1, 7)]
    assert bench.allowance(groups, 16, 1.0) == 1 + 5 + 1


def test_best_effort_after_every_other_group():
    records = [vm(5, priority="best-effort"), vm(9), vm(0, priority="best-effort"), vm(2)]
    groups = bench.start_groups(records)
    # (restart, 2), (restart, 9), (best-effort, 0), (best-effort, 5)
    assert [size for size, _ in groups] == [1, 1, 1, 1]
    assert bench.start_groups([vm(9), vm(0, delay=4, priority="best-effort")]) == [(1, 0), (1, 4)]


def test_missing_fields_default_to_group_zero():
    assert bench.start_groups([{}, {"order": "", "start_delay": None}]) == [(2, 0)]


def test_bad_limit_is_refused():
    with pytest.raises(ValueError):
        bench.allowance([(1, 0)], 0, 1.0)


def test_percentile_nearest_rank():
    samples = [0.1 * i for i in range(1, 11)]
    assert bench.percentile(samples, 0.5) == pytest.approx(0.5)
    assert bench.percentile(samples, 0.9) == pytest.approx(0.9)
    assert bench.percentile(samples, 0.0) == pytest.approx(0.1)
    assert bench.percentile([3.0], 0.9) == 3.0


def test_flight_counts_first_call_and_mean_in_flight():
    # two VMs, each in flight 1 s, side by side over 1 s: 2 in flight on average; a repeated call is counted
    calls = [(10.0, "a"), (10.0, "b"), (10.5, "b")]
    detail = bench.flight(calls, {"a": 11.0, "b": 11.0})
    assert detail["calls"] == 3
    assert detail["in_flight_median"] == pytest.approx(1.0)
    assert detail["mean_in_flight"] == pytest.approx(2.0)
    # one after another with a 1 s gap between: 2 s of flight over 3 s
    detail = bench.flight([(0.0, "a"), (2.0, "b")], {"a": 1.0, "b": 3.0})
    assert detail["mean_in_flight"] == pytest.approx(2.0 / 3.0)
    assert bench.flight([], {})["mean_in_flight"] == 0.0


@pytest.mark.parametrize("argv", [["--latency", "0"], ["--vms", "5", "--serial-sample", "6"], ["--hosts", "1"],
                                  ["--trials", "0"], ["--serial-sample", "-1"]])
def test_bad_arguments_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.parse_args(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_defaults_measure_the_whole_serial_run():
    args = bench.parse_args([])
    assert (args.vms, args.latency, args.serial_sample, args.strict) == (200, 1.0, 0, False)
