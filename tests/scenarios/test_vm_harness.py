"""The scenario harness itself: pool up, supervisors answering, config stored, final check."""

def test_harness_brings_up_pool_and_supervisors(scenario):
    sc = scenario(hosts=2, vms=2, config={"MONITOR_DELAY": 3})
    sups = sc.start_supervisors()
    assert len(sups) == 2 and all(s.answering() for s in sups)
    got = sc.ha_cfg("host1", "get", "MONITOR_DELAY")
    assert got.returncode == 0 and "3" in got.stdout, got.stdout + got.stderr
    assert sc.ha_cfg("host1", "ha-status").stdout.strip() == "true"
    sc.check_final()
