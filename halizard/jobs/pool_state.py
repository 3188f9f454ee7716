"""Job `pool_state`: cache the pool view and configuration in state files.

Why: when XAPI stops answering, every other job still needs the last known
pool (hosts, their addresses and health, protected VMs) to decide anything.
This job refreshes `pool-view.json` (and, through load_effective, the pool
configuration cache `pool-config.json`) each cycle. When the master is silent
the previous cache is kept untouched and the run ends in "error" saying why.
"""
from halizard.jobs.base import Outcome, Report
from halizard.xapi.view import watch
from halizard.xapi.membership import ACK_KEY
from halizard.xapi.membership import KEY as MEMBERSHIP_KEY

POOL_VIEW = "pool-view"


def _host_entry(record, health_key):
    other = record.get("other_config") or {}
    return {"uuid": record.get("uuid"), "name_label": record.get("name_label"),
            "address": record.get("address"), "enabled": bool(record.get("enabled")),
            "health": other.get(health_key), "membership_ack": other.get(ACK_KEY)}


def _vm_entry(record, ha_key, hosts_by_ref):
    other = record.get("other_config") or {}
    return {"uuid": record.get("uuid"), "name_label": record.get("name_label"),
            "power_state": record.get("power_state"),
            "resident_on": hosts_by_ref.get(record.get("resident_on")),
            "ha_flag": other.get(ha_key), "home_pool": other.get("home-pool")}


def collect(session, xc_field_key, now, view=None):
    """The pool view as plain data, observed at `now` (wall clock).

    view: a halizard.xapi.view.PoolWatch, brought up to date by one event.from
    (issue 16); None reads with one `get_all_records` per class.
    """
    if view is not None:
        records = view.refresh(session)
        pools, hosts, vms = records["pool"], records["host"], records["vm"]
    else:
        pools = session.xenapi.pool.get_all_records()
        hosts = session.xenapi.host.get_all_records()
        vms = session.xenapi.VM.get_all_records()
    hosts_by_ref = {ref: rec.get("uuid") for ref, rec in hosts.items()}
    pool = next(iter(pools.values()), {}) if pools else {}
    return {
        "pool_uuid": pool.get("uuid"),
        "master": hosts_by_ref.get(pool.get("master")),
        "hosts": sorted((_host_entry(rec, xc_field_key) for rec in hosts.values()),
                        key=lambda h: h["name_label"] or ""),
        "vms": sorted((_vm_entry(rec, xc_field_key, hosts_by_ref) for rec in vms.values()
                       if not rec.get("is_a_template") and not rec.get("is_control_domain")
                       and not rec.get("is_a_snapshot")),
                      key=lambda v: v["name_label"] or ""),
        "membership": (pool.get("other_config") or {}).get(MEMBERSHIP_KEY, ""),
        "observed": now,
    }


def run(env):
    """Refresh the cached pool view; returns a Report (FAILED, keeping the cache, when XAPI is silent)."""
    from halizard.jobs import membership
    from halizard.xapi.errors import XapiError

    config = env.effective()
    timeout = float(config.get("XE_TIMEOUT"))
    remaining = env.remaining()
    if remaining is not None:
        timeout = max(0.5, min(timeout, remaining / 3.0))
    session, why = env.try_session(timeout)
    if session is None:
        return Report(Outcome.FAILED, "pool view not refreshed, keeping the cached one: master not answering "
                                      "(%s)" % why)
    try:
        view = collect(session, config.xc_field_key, env.clock.wall(), view=watch(env.root, env.state, env.log, env.remaining()))
        me = env.self_uuid()
        for entry in view["hosts"]:
            if entry["uuid"] == me:  # the cached view shows the ack as it is after this run
                entry["membership_ack"] = membership.acknowledge(session, me, view["membership"],
                                                                 entry.get("membership_ack"))
    except XapiError as exc:
        return Report(Outcome.FAILED, "pool view not refreshed, keeping the cached one: %s during the read"
                      % type(exc).__name__)
    finally:
        session.logout()
    env.state.write(POOL_VIEW, view)
    membership.record(env.state, view["membership"], as_master=view["master"] == me)
    return Report(Outcome.DONE, "pool view refreshed: %d hosts, %d VMs, pool config from %s"
                  % (len(view["hosts"]), len(view["vms"]), config.pool_status))
