"""`ha-cfg plan` (what if hosts failed) and `ha-cfg timeline` (the last incident).

Why: both answer the admin's morning-after questions from the same code the
service decides with (halizard.ops).
"""
from halizard.cli.common import EXIT_OK, CliError, dump_json

def _plan_report(inputs, failed, plan, tol):
    """Plain dict of the what-if: start groups in order, VMs not started with their reason."""
    displaced = {v.uuid for v in inputs.pool.vms if v.resident_on in failed}
    groups = [{"order": g.order, "best_effort": g.best_effort, "delay_after": g.delay_after,
               "starts": [{"vm": inputs.pool.vm(s.vm_uuid).name_label, "vm_uuid": s.vm_uuid,
                           "host": inputs.name(s.host_uuid), "host_uuid": s.host_uuid, "why": s.why}
                          for s in g.starts]} for g in plan.groups]
    started = {s.vm_uuid for s in plan.starts}
    from halizard.core import vm_plan
    skip = vm_plan.NEVER_MANAGED | {vm_plan.Reason.RUNNING_OK}
    not_started = [{"vm": s.name_label, "vm_uuid": s.vm_uuid, "protected": s.protected, "reason": s.reason.value,
                    "why": s.why} for s in plan.statuses
                   if s.vm_uuid not in started and s.reason not in skip
                   and (s.protected or s.vm_uuid in displaced)]
    return {"failed": [inputs.name(u) for u in failed], "groups": groups, "not_started": not_started,
            "tolerance": {"failures": tol.failures, "exact": tol.exact, "fits_now": tol.fits_now,
                          "worst": [inputs.name(u) for u in tol.worst], "required": inputs.required}}


def tolerance_fact(ctx):
    """For `ha-cfg status`: {failures, exact, fits_now, required, text}, or None when the pool cannot tell."""
    from halizard.ops import whatif
    try:
        inputs = whatif.Inputs(ctx.root, ctx.session(), ctx.config(), timeout=ctx.timeout)
        tol = inputs.tolerance()
    except Exception:  # noqa: BLE001 - the status box shows "unknown" rather than failing
        return None
    short = tol.failures < inputs.required or not tol.fits_now
    text = whatif.tolerance_text(tol, inputs.required) + (" - TOO LOW, see ha-cfg plan" if short else "")
    return {"failures": tol.failures, "exact": tol.exact, "fits_now": tol.fits_now,
            "required": inputs.required, "text": text, "short": short}


def cmd_plan(ctx, args):
    from halizard.core import capacity
    from halizard.core.policy import PolicyError
    from halizard.ops import whatif

    try:
        inputs = whatif.Inputs(ctx.root, ctx.session(), ctx.config(), timeout=ctx.timeout)
    except PolicyError as exc:
        raise CliError("no plan: %s" % exc) from None
    try:
        failed = capacity.resolve_hosts(inputs.pool, args.fail)
    except capacity.UnknownHost as exc:
        raise CliError("--fail: %s" % exc) from None
    report = _plan_report(inputs, failed, inputs.plan(failed), inputs.tolerance())
    if args.json:
        dump_json(report, ctx.out)
        return EXIT_OK
    ctx.say("If %s failed:" % (", ".join(report["failed"]) or "no host"))
    for group in report["groups"]:
        ctx.say("  %s %d%s:" % ("best-effort, order" if group["best_effort"] else "order", group["order"],
                                ", then %ds" % group["delay_after"] if group["delay_after"] else ""))
        for start in group["starts"]:
            ctx.say("    %s -> %s" % (start["vm"], start["host"]))
    if not report["groups"]:
        ctx.say("  no VM would be started")
    for vm in report["not_started"]:
        ctx.say("  not started: %s (%s): %s" % (vm["vm"], vm["reason"], vm["why"]))
    tol = report["tolerance"]
    from halizard.core.capacity import Tolerance
    text = whatif.tolerance_text(Tolerance(tol["failures"], tol["exact"], tol["fits_now"]), tol["required"])
    ctx.say("Pool tolerance: %s" % text)
    if tol["worst"]:
        ctx.say("  one more failure breaks it, e.g. %s" % ", ".join(tol["worst"]))
    return EXIT_OK


def cmd_timeline(ctx, args):
    from halizard import hostinfo
    from halizard.ops import journal, timeline
    from halizard.statefiles import StateStore

    try:
        since = timeline.parse_since(args.since) if args.since is not None else None
    except timeline.BadTime as exc:
        raise CliError(str(exc)) from None
    local, _doc = journal.read(StateStore(ctx.root))
    try:
        local_uuid = hostinfo.local_host_uuid(ctx.root)
    except hostinfo.HostInfoError:
        local_uuid = None
    entries, unreachable = timeline.collect(ctx.session(), local, local_uuid, ctx.config().xc_field_key)
    report = dict(timeline.story(entries, since), unreachable=unreachable)
    if args.json:
        dump_json(report, ctx.out)
    else:
        for line in timeline.lines(report):
            ctx.say(line)
    return EXIT_OK
