"""The pool status report appended to every alert mail: hosts with their HA health, then VMs.

Why: an alert says what happened; the report shows the pool around it
(which host is master, which is failed, where each VM runs), so the admin
can judge from the mail alone. It is built either live from a XAPI session
(`from_session`, used by `ha-cfg email`) or, inside HA jobs that must not
make extra XAPI calls for mail, from the last pool view a job left in the
state directory (`from_state`). Building a report never raises: a report
that cannot be made says so in one line.
"""

import time

from halizard.alerts.settings import one_line
from halizard.statefiles import StateStore

CALL_TIMEOUT = 5.0
STATE_NAMES = ("status-report", "pool-view")
XC_FIELD_DEFAULT = "ha-lizard-enabled"


def _table(rows, headers):
    widths = [max(len(str(row[i])) for row in rows + [headers]) for i in range(len(headers))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    for row in rows:
        lines.append("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    return "\n".join(lines)


def render(pool_name, hosts, vms):
    """hosts: dicts name/address/role/enabled/health; vms: dicts name/power_state/host."""
    parts = ["Pool: %s" % one_line(pool_name or "(unnamed)", 100), ""]
    host_rows = [[one_line(h.get("name", ""), 60), h.get("address", ""), h.get("role", ""),
                  "yes" if h.get("enabled", True) else "no", h.get("health", "") or "-"] for h in hosts]
    parts.append(_table(host_rows, ["HOST", "ADDRESS", "ROLE", "ENABLED", "HA HEALTH"]) if host_rows
                 else "(no hosts)")
    parts.append("")
    vm_rows = [[one_line(v.get("name", ""), 60), v.get("power_state", ""), one_line(v.get("host", "") or "-", 60)]
               for v in sorted(vms, key=lambda v: str(v.get("name", "")))]
    parts.append(_table(vm_rows, ["VM", "POWER", "RUNNING ON"]) if vm_rows else "(no VMs)")
    return "\n".join(parts) + "\n"


def from_session(session, xc_field_name=XC_FIELD_DEFAULT, timeout=CALL_TIMEOUT):
    """A live report through a connected XapiSession; one line of explanation when that fails."""
    try:
        pools = session.call("pool.get_all_records", timeout=timeout) or {}
        pool = next(iter(pools.values()), {})
        master = pool.get("master", "")
        host_records = session.call("host.get_all_records", timeout=timeout) or {}
        vm_records = session.call("VM.get_all_records", timeout=timeout) or {}
    except Exception as exc:  # the report is a courtesy: never let it break the alert
        return "(pool status report unavailable: %s)\n" % one_line(str(exc), 200)
    field = "XenCenter.CustomFields." + xc_field_name
    names = {ref: record.get("name_label", "") for ref, record in host_records.items()}
    hosts = [{"name": record.get("name_label", ""), "address": record.get("address", ""),
              "role": "master" if ref == master else "slave", "enabled": record.get("enabled", True),
              "health": (record.get("other_config") or {}).get(field, "")}
             for ref, record in sorted(host_records.items(), key=lambda item: item[1].get("name_label", ""))]
    vms = [{"name": record.get("name_label", ""), "power_state": record.get("power_state", ""),
            "host": names.get(record.get("resident_on"), "")}
           for record in vm_records.values()
           if not record.get("is_a_template") and not record.get("is_control_domain")
           and not record.get("is_a_snapshot")]
    return render(pool.get("name_label", ""), hosts, vms)


def from_state(root):
    """The report from the newest pool view a job stored, else "".

    Understands the `pool-view` state of the pool_state job (hosts and VMs
    with uuids, `master` a host uuid, `observed` epoch seconds), a plain
    {pool, hosts, vms} structure, or ready text (`status-report`).
    """
    try:

        store = StateStore(root)
        for name in STATE_NAMES:
            value = store.read(name, None)
            if isinstance(value, str) and value.strip():
                return value if value.endswith("\n") else value + "\n"
            if isinstance(value, dict) and isinstance(value.get("hosts"), list):
                return _render_view(value)
    except Exception as exc:  # a broken state file must not stop the alert
        return "(pool status report unavailable: %s)\n" % one_line(str(exc), 200)
    return ""


def _render_view(view):
    hosts = _dicts(view.get("hosts"))
    names = {h.get("uuid"): h.get("name_label") or h.get("name") or "" for h in hosts}
    master = view.get("master")
    host_rows = [{"name": h.get("name_label") or h.get("name") or "", "address": h.get("address") or "",
                  "role": h.get("role") or ("master" if master and h.get("uuid") == master else "slave"),
                  "enabled": h.get("enabled", True), "health": h.get("health") or ""} for h in hosts]
    vm_rows = [{"name": v.get("name_label") or v.get("name") or "", "power_state": v.get("power_state") or "",
                "host": v.get("host") or names.get(v.get("resident_on"), "")} for v in _dicts(view.get("vms"))]
    text = render(view.get("pool") or view.get("pool_name") or view.get("pool_uuid") or "", host_rows, vm_rows)
    observed = view.get("observed")
    if isinstance(observed, (int, float)):
        text += "(as last seen by this host at %s UTC)\n" % time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(observed))
    return text


def _dicts(items):
    return [item for item in (items or []) if isinstance(item, dict)]
