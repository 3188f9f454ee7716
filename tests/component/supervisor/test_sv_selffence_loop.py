"""self_fence as a loop job under a real supervisor: runs hand over with no gap, and a quorum loss
is acted on within the self-fence deadline while runs come and go."""
import time

import pytest

from harness import DEFAULT_CONFIG, host_health, vms_on
from sv_helpers import jobs, wait_until, write_override

from halizard.core import timing
from halizard.core.policy import Policy


def _runs_seen(root, seconds):
    """Every finished run of self_fence seen in `seconds` of polling `jobs` ({pid: last record})."""
    seen = {}
    limit = time.monotonic() + seconds
    while time.monotonic() < limit:
        last = jobs(root)["self_fence"]["last"]
        if last:
            seen[last["pid"]] = last
        time.sleep(0.1)
    return sorted(seen.values(), key=lambda r: r["started"])


def test_loop_runs_end_by_themselves_and_the_next_starts_at_once(root, service):
    # MONITOR_MAX_STARTS=1 with KILLALL: a plain job busy at one re-check would be killed; a loop job is not
    write_override(root, MONITOR_SCANRATE=1, MONITOR_MAX_STARTS=1, MONITOR_KILLALL=1)
    # grace 10: without the hand-over the next run would only start at the re-check after deadline + grace
    svc = service({"self_fence": {"target": "halizard.jobs.self_fence:run", "period": 1, "deadline": 3,
                                  "grace": 10, "loop": True}})
    # the first run may spend its 3 s starting the job forkserver on a loaded machine: watch after it
    wait_until(lambda: (jobs(root)["self_fence"]["last"] or {}).get("outcome") == "ok", 60,
               message="a first self_fence run that ended by itself")
    runs = _runs_seen(root, 11)
    assert len(runs) >= 2, runs
    assert all(r["outcome"] == "ok" for r in runs), runs          # ended itself, never timed out / killed
    assert all(r["duration"] < 3.0 for r in runs), runs
    gaps = [b["started"] - a["finished"] for a, b in zip(runs, runs[1:])]
    # armed at once when the previous run ends; a missed hand-over would leave a gap of 10 s or more
    assert all(g < 4.0 for g in gaps), gaps
    assert "still running" not in svc.log() and "MONITOR_MAX_STARTS" not in svc.log()


SHORT = {"XE_TIMEOUT": 2, "MGT_LINK_LOSS_TOLERANCE": 2, "SELF_FENCE_STOP_TIMEOUT": 3}


@pytest.mark.timeout(240)
def test_quorum_loss_is_acted_on_within_the_deadline_across_loop_runs(scenario):
    # 5 s runs: two 1 s checks (each planned at up to 3 s) per run, so runs hand over every ~2 s
    loop = {"jobs": {"self_fence": {"target": "halizard.jobs.self_fence:run", "period": 1, "deadline": 5,
                                    "loop": True}}}
    sc = scenario(hosts=3, vms=3, config=SHORT, jobs=loop)
    policy = Policy.from_mapping(dict(DEFAULT_CONFIG, **SHORT))
    sc.start_supervisors()
    sc.wait_until(lambda: host_health(sc, "host3") == "healthy", 60, interval=0.3,
                  message="the master marks host3 healthy")
    assert vms_on(sc, "host3"), "the simulator places one VM per host round-robin"
    host3 = sc.supervisor("host3")
    sc.wait_until(lambda: jobs(host3.root)["self_fence"]["counts"]["ok"] >= 3, 60, interval=0.3,
                  message="host3's self_fence handed over a few times")
    # (the very first run may hit its 5 s deadline while the job forkserver starts on a loaded machine)
    before = jobs(host3.root)["self_fence"]["counts"]

    cut = time.monotonic()
    sc.pool.fault("partition", "host3", "host1,host2")
    deadline = timing.self_fence_deadline(policy)
    sc.wait_until(lambda: vms_on(sc, "host3") == [], deadline, interval=0.2,
                  message="host3 stops its own VMs within the self-fence deadline")
    assert time.monotonic() - cut < deadline
    assert (host3.state("self-fence") or {}).get("stopping_since")
    counts = jobs(host3.root)["self_fence"]["counts"]
    assert all(counts[k] == before[k] for k in ("timed_out", "killed", "error")), (before, counts)
    sc.pool.fault("heal")
