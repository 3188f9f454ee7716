"""ha-cfg status: the old tool's status box (role, mode, service, HA field, witness, tolerance),
or its facts as JSON, and the offer to toggle pool HA.

Why: the first command an admin runs when something looks wrong; the pool part
may be unknown (a silent master) and the box still shows what this host knows.
"""
from halizard import __version__, hostinfo
from halizard.cli.common import EXIT_OK, boxed, describe_error, dump_json
from halizard.cli.ha_cfg import plan
from halizard.cli.ha_cfg.context import wait_hint
from halizard.cli.ha_cfg.vms import set_pool_field, vm_records
from halizard.config import effective, pool_store
from halizard.config.pool_store import FlagState
from halizard.jobs.membership import status as membership_status
from halizard.jobs.witness import witness_status
from halizard.suspension import is_suspended
from halizard.xapi.errors import XapiError


def _service_health(root):
    """Service facts from the supervisor's control socket, or None when it is not running."""
    try:
        from halizard.supervisor.control import query
        answer = query(root, "status", timeout=2.0)
    except Exception:  # noqa: BLE001 - any failure here means "not running" for the status box
        return None
    return answer if isinstance(answer, dict) else None


def _job_lines(service):
    lines = []
    jobs = service.get("jobs") or []
    if isinstance(jobs, dict):
        jobs = [dict(info, name=name) if isinstance(info, dict) else {"name": name, "state": info}
                for name, info in jobs.items()]
    for job in jobs:
        if not isinstance(job, dict):
            continue
        last = job.get("last")
        outcome = last.get("outcome") if isinstance(last, dict) else last
        lines.append("%s: %s%s" % (job.get("name", "?"), job.get("state", "?"),
                                   ", last %s" % outcome if outcome else ""))
    return lines


def _status_facts(ctx):
    """Everything the status box shows; the pool part may be unknown when the master is silent."""
    facts = {"version": __version__}
    role, master_addr = hostinfo.read_pool_conf(ctx.root)
    facts["role"] = role
    facts["master_address"] = master_addr
    try:
        facts["host_uuid"] = hostinfo.local_host_uuid(ctx.root)
    except hostinfo.HostInfoError:
        facts["host_uuid"] = None
    service = _service_health(ctx.root)
    facts["service"] = {"running": service is not None}
    if service is not None:
        facts["service"].update({k: service.get(k) for k in ("pid", "uptime", "warnings")})
        facts["service"]["jobs"] = _job_lines(service)
    facts["suspended"] = is_suspended(ctx.root)
    facts["pool_error"] = None
    try:
        session = ctx.session()
        config = ctx.config()
        ref, pool_uuid, other = ctx.pool()
        facts["pool_uuid"] = pool_uuid
        master_ref = session.xenapi.pool.get_master(ref)
        facts["master_uuid"] = session.xenapi.host.get_uuid(master_ref)
        facts["op_mode"] = config.get("OP_MODE")
        facts["global_vm_ha"] = config.get("GLOBAL_VM_HA")
        facts["ha_field"] = config.pool_ha_raw()
        facts["ha_state"] = config.pool_ha_state().value
        key = config.xc_field_key
        facts["invalid_vm_fields"] = sorted(
            rec.get("name_label", rec.get("uuid", "?")) for rec in vm_records(ctx).values()
            if pool_store.flag_state((rec.get("other_config") or {}).get(key)) == FlagState.INVALID)
        facts["failure_tolerance"] = plan.tolerance_fact(ctx)
    except XapiError as exc:
        facts["pool_error"] = exc
        facts["failure_tolerance"] = None
        pool_uuid, cached = effective.cached_pool(ctx.root)
        facts["pool_uuid"] = pool_uuid
        facts["master_uuid"] = None
        config = effective.build_effective(cached or {}, {}, "localhost")
        facts["op_mode"] = config.get("OP_MODE")
        facts["global_vm_ha"] = config.get("GLOBAL_VM_HA")
        facts["ha_field"] = None
        facts["ha_state"] = "unknown"
        facts["invalid_vm_fields"] = []
    facts["witness"] = witness_status(ctx.root, config.get("WITNESS_ADDRESS"), facts["host_uuid"])
    facts["membership"] = membership_status(ctx.root, facts["host_uuid"])
    return facts


def _mode_text(op_mode, global_ha):
    if op_mode == 1:
        return "Mode [ 1 ] Managing Appliances"
    return "Mode [ 2 ] %s" % ("Managing All VMs in Pool" if global_ha == 1 else "Managing Individual VMs in Pool")


def cmd_status(ctx, args):
    """The status box; on a terminal (or with --yes) offers to toggle pool HA like the old tool."""
    facts = _status_facts(ctx)
    error = facts.pop("pool_error")
    if args.json:
        facts["pool_error"] = str(error) if error else None
        dump_json(facts, ctx.out)
        return run_status_exit(error)
    service = facts["service"]
    daemon = ("running (pid %s, up %ss)" % (service.get("pid"), service.get("uptime"))
              if service["running"] else "not running")
    lines = ["ha-lizard Version: %s" % facts["version"],
             "Operating Mode:    %s" % _mode_text(facts["op_mode"], facts["global_vm_ha"]),
             "Host Role:         %s" % facts["role"],
             "Pool UUID:         %s" % (facts["pool_uuid"] or "unknown"),
             "Host UUID:         %s" % (facts["host_uuid"] or "unknown"),
             "Master UUID:       %s" % (facts["master_uuid"] or "unknown"),
             "Daemon Status:     %s" % daemon]
    for job in service.get("jobs", []):
        lines.append("  job %s" % job)
    for warning in service.get("warnings") or []:
        lines.append("  warning: %s" % warning)
    shown_field = facts["ha_field"] if facts["ha_field"] is not None else (
        "not set" if facts["ha_state"] == FlagState.MISSING else facts["ha_state"])
    lines.append("HA Enabled:        %s" % shown_field)
    lines.extend("%-19s%s" % (label + ":", facts[key]["text"])
                 for label, key in (("Witness", "witness"), ("Membership", "membership")) if facts[key] is not None)
    lines.append("Failure Tolerance: %s" % ((facts["failure_tolerance"] or {}).get("text") or "unknown"))
    ctx.out.write(boxed(lines))
    state = facts["ha_state"]
    if error is not None:
        ctx.say("Pool HA Status: UNKNOWN (the pool master did not answer: %s)" % error)
        return run_status_exit(error)
    if state == FlagState.TRUE:
        ctx.say("Pool HA Status: ENABLED")
    elif state == FlagState.FALSE:
        ctx.say("Pool HA Status: DISABLED")
    else:
        ctx.say("Pool HA Status: INVALID - %s is %s; HA is not active" % (
            ctx.config().xc_field_key, "not set" if state == FlagState.MISSING else "%r" % facts["ha_field"]))
        ctx.say("Fix it with: ha-cfg ha-enable  (or ha-cfg ha-disable)")
    if facts["invalid_vm_fields"]:
        ctx.say("WARNING: VMs with an invalid HA value (not protected; see ha-cfg get-vm-ha): %s"
                % ", ".join(facts["invalid_vm_fields"]))
    if facts["suspended"]:
        ctx.say("")
        ctx.say("NOTICE: This host has encountered an error and HA operation has been suspended.")
        ctx.say("To restore HA on this host, first ensure the pool is fully operational and the issue")
        ctx.say("that caused this host to be ejected has been resolved; it resumes once the master")
        ctx.say("marks it healthy (or run recover_fenced_host).")
    if state in (FlagState.TRUE, FlagState.FALSE):
        new = FlagState.FALSE.value if state == FlagState.TRUE else FlagState.TRUE.value
        verb = "Disable" if state == FlagState.TRUE else "Enable"
        if ctx.ask("ha-lizard is %s. %s? <yes or Enter to quit>" % (
                "enabled" if state == FlagState.TRUE else "disabled", verb), "yes"):
            set_pool_field(ctx, new)
            ctx.say("Success: pool HA %s. %s" % ("enabled" if new == FlagState.TRUE else "disabled", wait_hint(ctx)))
    return EXIT_OK


def run_status_exit(error):
    if error is None:
        return EXIT_OK
    return describe_error(error)[1]

