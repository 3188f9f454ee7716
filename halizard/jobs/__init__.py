"""The job registry: job name -> entry point ("module:function").

Why: the supervisor runs exactly the jobs listed here (plus, for tests and
development only, those of the file named by HALIZARD_JOBS, see
halizard.supervisor.registry). Each entry point follows halizard.jobs.base.
Per-job period/deadline default to the monitor parameters (MONITOR_DELAY,
MONITOR_SCANRATE x MONITOR_MAX_STARTS) unless given here.
"""

JOBS = {
    "pool_state": {"target": "halizard.jobs.pool_state:run"},
}
