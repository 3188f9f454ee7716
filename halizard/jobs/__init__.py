"""The job registry: job name -> entry point ("module:function").

Why: the supervisor runs exactly the jobs listed here (plus, for tests and
development only, those of the file named by HALIZARD_JOBS, see
halizard.supervisor.registry). Each entry point follows halizard.jobs.base.
Per-job period/deadline default to the monitor parameters (MONITOR_DELAY,
MONITOR_SCANRATE x MONITOR_MAX_STARTS) unless given here.
"""

JOBS = {
    "pool_state": {"target": "halizard.jobs.pool_state:run"},
    "alert_spool": {"target": "halizard.jobs.alert_spool:run", "period": 60, "deadline": 60},
    "disk_monitor": {"target": "halizard.jobs.disk_monitor:run", "period": 3600, "deadline": 120},
    "vm_monitor": {"target": "halizard.jobs.vm_monitor:run"},
    "vm_events": {"target": "halizard.jobs.vm_events:run", "period": 30, "deadline": 130},
    "zombies": {"target": "halizard.jobs.zombies:run"},
    "master_watch": {"target": "halizard.jobs.master_watch:run", "deadline": 300},
    "master_cycle": {"target": "halizard.jobs.master_cycle:run"},
    "autoselect": {"target": "halizard.jobs.autoselect:run"},
    "ops_report": {"target": "halizard.jobs.ops_report:run"},  # metrics textfile, journal published (issue 17)
    # one run loops, checking every SELF_FENCE_CHECK_INTERVAL s, and ends before its deadline; the next
    # starts at once (a loop job, see halizard.supervisor.registry); a process per check cost ~3-4% of a core
    "self_fence": {"target": "halizard.jobs.self_fence:run", "period": 1, "deadline": 60, "loop": True},
    # asks the witness for its vote every WITNESS_LEASE/3 s (a loop job too; no request without
    # WITNESS_ADDRESS) and, between requests, answers the peer query on UDP PEER_PORT (halizard.peers)
    "witness": {"target": "halizard.jobs.witness:run", "period": 1, "deadline": 60, "loop": True},
}
