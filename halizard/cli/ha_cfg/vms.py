"""ha-cfg set-vm-ha, get-vm-ha, ha-status, ha-enable and ha-disable: the XenCenter HA field
of each VM and of the pool.

Why: the field is the admin's switch, shared with XenCenter; get-vm-ha also says
whether each VM is protected and why, from the jobs' own decision.
"""
from halizard.cli.common import EXIT_OK, CliError, dump_json, table
from halizard.cli.ha_cfg.context import Writing, apply, wait_hint
from halizard import hostinfo
from halizard.config import pool_store
from halizard.config.pool_store import FlagState
from halizard.jobs import membership, witness


def vm_records(ctx):
    """Ordinary VMs (no templates, snapshots or control domains): ref -> record."""
    records = ctx.session().xenapi.VM.get_all_records()
    return {ref: rec for ref, rec in records.items()
            if not rec.get("is_a_template") and not rec.get("is_a_snapshot")
            and not rec.get("is_control_domain")}


def _field_state(raw):
    state = pool_store.flag_state(raw)
    return {FlagState.MISSING: "unset", FlagState.INVALID: "INVALID(%s)" % raw}.get(state, state.value)


def cmd_set_vm_ha(ctx, args):
    """Set one VM's HA field to true/false; the name must match exactly one VM."""
    if args.value not in pool_store.TRUE_FALSE:
        raise CliError("invalid HA setting %r for VM %s: must be true or false" % (args.value, args.vm))
    session = ctx.session()
    refs = list(session.xenapi.VM.get_by_name_label(args.vm))
    vms = vm_records(ctx) if refs else {}
    matches = [(ref, vms[ref]) for ref in refs if ref in vms]
    if not matches:
        raise CliError("no VM is named %r (names must match exactly; see: ha-cfg get-vm-ha)" % args.vm)
    if len(matches) > 1:
        raise CliError("%d VMs are named %r: %s; rename them so the name is unique"
                       % (len(matches), args.vm, ", ".join(sorted(rec["uuid"] for _r, rec in matches))))
    ref, record = matches[0]
    key = ctx.config().xc_field_key
    current = (record.get("other_config") or {}).get(key)
    if current != args.value:
        with Writing():
            if current is not None:
                session.xenapi.VM.remove_from_other_config(ref, key)
            session.xenapi.VM.add_to_other_config(ref, key, args.value)
    ctx.say("Success: VM %s (UUID %s) HA set to %s" % (args.vm, record["uuid"], args.value))
    ctx.say(wait_hint(ctx))
    return EXIT_OK


def _mode_notes(config):
    op_mode, global_ha = config.get("OP_MODE"), config.get("GLOBAL_VM_HA")
    if op_mode == 1:
        return ["Pool OP_MODE is 1: every VM of a managed appliance is protected, whatever its own field."]
    if global_ha == 1:
        return ["GLOBAL_VM_HA is 1: every VM is protected; the per-VM field is not needed."]
    return ["OP_MODE 2 with GLOBAL_VM_HA 0: only VMs whose field is true are protected.",
            "Use 'ha-cfg set-vm-ha NAME true|false' to change a VM."]


def _add_vm_reasons(ctx, config, rows):
    """Protected or not, and why, per VM (halizard.jobs.vm_monitor.vm_reasons: the jobs' own decision)."""
    from halizard.core.policy import PolicyError
    from halizard.jobs.vm_monitor import vm_reasons

    try:
        found = {r["uuid"]: r for r in vm_reasons(ctx.root, ctx.session(), config)}
    except PolicyError as exc:
        found, unknown = {}, "not decided: %s" % exc
    else:
        unknown = "not decided"
    for row in rows:
        reason = found.get(row["uuid"], {})
        row["protected"] = reason.get("protected")
        row["reason"] = reason.get("reason")
        row["why"] = reason.get("why", unknown)


def cmd_get_vm_ha(ctx, args):
    """List VMs with their HA field; invalid values are flagged."""
    config = ctx.config()
    key = config.xc_field_key
    rows = []
    for _ref, rec in sorted(vm_records(ctx).items(), key=lambda item: (item[1].get("name_label", ""),
                                                                        item[1].get("uuid", ""))):
        raw = (rec.get("other_config") or {}).get(key)
        rows.append({"uuid": rec.get("uuid", ""), "name_label": rec.get("name_label", ""),
                     "power_state": rec.get("power_state", ""), "ha_field": raw,
                     "ha_state": pool_store.flag_state(raw).value})
    _add_vm_reasons(ctx, config, rows)
    invalid = [r for r in rows if r["ha_state"] == FlagState.INVALID]
    waiting = list(membership.waiting(ctx.root, config, hostinfo.local_host_uuid(ctx.root), witness.held))
    if args.json:
        dump_json({"op_mode": config.get("OP_MODE"), "global_vm_ha": config.get("GLOBAL_VM_HA"),
                   "field": key, "vms": rows, "waiting": waiting}, ctx.out)
        return EXIT_OK
    for note in _mode_notes(config) + waiting:
        ctx.say(note)
    ctx.say("")
    ctx.out.write(table([[_field_state(r["ha_field"]), r["uuid"], r["name_label"], r["power_state"],
                          {True: "yes", False: "no"}.get(r["protected"], "?"), r["why"]]
                         for r in rows], ["HA-Enabled", "VM-UUID", "VM-Name", "Power-State", "Protected", "Why"]))
    for row in invalid:
        ctx.warn("VM %s has an invalid HA value %r (must be true or false): it is not protected"
                 % (row["name_label"], row["ha_field"]))
    return EXIT_OK


def _pool_field(ctx):
    ref, _uuid, other = ctx.pool()
    key = ctx.config().xc_field_key
    return ref, key, other.get(key)


def cmd_ha_status(ctx, args):
    """Print the pool HA field: true or false (anything else is reported as invalid)."""
    _ref, key, raw = _pool_field(ctx)
    state = pool_store.flag_state(raw)
    if state in (FlagState.TRUE, FlagState.FALSE):
        ctx.say(state.value)
        return EXIT_OK
    ctx.say("unset" if state == FlagState.MISSING else "invalid")
    ctx.warn("pool field %s is %s: HA is not active (run ha-cfg ha-enable or ha-disable)"
             % (key, "not set" if state == FlagState.MISSING else "set to the invalid value %r" % raw))
    return EXIT_OK


def set_pool_field(ctx, value):
    ref, key, raw = _pool_field(ctx)
    if raw != value:
        apply(ctx, ref, {key: value})
    ctx.invalidate()


def cmd_ha_enable(ctx, args):
    set_pool_field(ctx, "true")
    ctx.say("Success: pool HA enabled")
    return EXIT_OK


def cmd_ha_disable(ctx, args):
    set_pool_field(ctx, "false")
    ctx.say("Success: pool HA disabled")
    return EXIT_OK

