"""What the host- and master-failure benchmarks share: reading the simulator, waiting for a settled pool.

Why: both measure a whole simulated pool with a real supervisor per host (tests/scenarios/harness/)
and must look at it the same way, so their figures compare.
"""
from halizard.sim import control


def status(sc):
    """Ground truth straight from the simulator's control endpoint (no CLI process per look)."""
    return control.call(sc.pool.json["control_url"], "status", timeout=15.0)


def settled(sc):
    """True once the master stamped every VM with its home pool: a new simulated pool's first rounds
    write hundreds of stamps, which a pool in production did long ago; measuring during them would
    measure the set-up."""
    try:
        records = sc.xapi(lambda x: x.VM.get_all_records())
    except Exception:  # noqa: BLE001 - a slow answer under load is just "not yet"
        return False
    return all((r.get("other_config") or {}).get("home-pool") for r in records.values()
               if not r.get("is_control_domain") and not r.get("is_a_template"))


def fmt(value):
    return "%.1f" % value if value is not None else "-"


def stop_on_sigterm(_signum, _frame):
    raise SystemExit(143)  # runs the teardown (supervisors stopped, pool down)
