"""ha-cfg insert, remove, get and set: the pool parameters stored in the pool's other_config.

Why: every value is validated before anything is written, and a change that
would break the self-fencing timing rule is refused (an unsafe pool may still
be changed step by step back to safety).
"""
from halizard import paths
from halizard.cli.common import EXIT_OK, MASK, CliError, dump_json, table
from halizard.cli.ha_cfg.context import apply, display, json_value, reason, restart_notice, wait_hint
from halizard.config import effective, pool_store, schema


def cmd_insert(ctx, args):
    """Write the default of every pool parameter that is missing (existing keys stay)."""
    ref, _uuid, other = ctx.pool()
    changes = {}
    for param in schema.POOL_PARAMETERS:
        if param.pool_key not in other:
            changes[param.pool_key] = pool_store.default_literal(param)
    field_key = schema.xc_field_key(ctx.config().get("XC_FIELD_NAME"))
    if field_key not in other:
        changes[field_key] = "false"
    apply(ctx, ref, changes)
    for key, raw in changes.items():
        ctx.say("Inserting %s=%s" % (key, raw))
    if not changes:
        ctx.say("Every parameter is already present; nothing inserted.")
    return EXIT_OK


def cmd_remove(ctx, args):
    """Erase every HA_<NAME> parameter of the schema from the pool."""
    ref, _uuid, other = ctx.pool()
    changes = {p.pool_key: None for p in schema.POOL_PARAMETERS if p.pool_key in other}
    apply(ctx, ref, changes)
    for key in changes:
        param = schema.get_param(key)
        ctx.say("Removing %s=%s" % (key, display(param, other[key])))
    if not changes:
        ctx.say("No ha-lizard parameter is stored in the pool.")
    return EXIT_OK


def _selected(names, host_local_ok):
    """Params chosen on the command line (all pool parameters when none named)."""
    if not names:
        return list(schema.POOL_PARAMETERS) + (
            [p for p in schema.PARAMETERS.values() if p.host_local_only] if host_local_ok else [])
    chosen = []
    for name in names:
        try:
            chosen.append(schema.get_param(name))
        except schema.UnknownParameter:
            raise CliError("unknown parameter %s (see: ha-cfg get)" % name) from None
    return chosen


def _invalid(params, stored, env):
    """Names of the params whose stored literal does not decode (the default applies)."""
    invalid = set()
    for param in params:
        if param.name in stored:
            try:
                pool_store.decode(param, stored[param.name], env)
            except ValueError:
                invalid.add(param.name)
    return invalid


def _get_json(params, stored, invalid, env):
    result = {}
    for param in params:
        if param.name in stored and param.name not in invalid:
            value = pool_store.decode(param, stored[param.name], env)
        else:
            value = pool_store.decode(param, pool_store.default_literal(param), env)
        result[param.name] = json_value(param, value)
    return result


def _get_rows(params, stored, invalid, as_list):
    """NAME=VALUE lines (as_list) or [name, value, note] table rows."""
    rows = []
    for param in params:
        raw = stored.get(param.name)
        shown = display(param, raw if raw is not None else pool_store.default_literal(param))
        if as_list:
            rows.append("%s=%s" % (param.name, shown))
        elif raw is None:
            rows.append([param.name, shown, "(default, not stored in the pool)"])
        else:
            rows.append([param.name, shown, "INVALID: the default applies" if param.name in invalid else ""])
    return rows


def cmd_get(ctx, args):
    """Show pool parameters: table, `-l` NAME=VALUE lines, `--json`, `--effective` with sources."""
    params = _selected(args.names, host_local_ok=args.effective)
    if args.effective:
        return _get_effective(ctx, args, params)
    _ref, _uuid, other = ctx.pool()
    stored = pool_store.stored_literals(other)
    config = ctx.config()
    for problem in config.problems:
        ctx.warn(problem)
    env = {"HOSTNAME": config.hostname}
    invalid = _invalid(params, stored, env)
    if args.json:
        dump_json(_get_json(params, stored, invalid, env), ctx.out)
        return EXIT_OK
    rows = _get_rows(params, stored, invalid, args.list)
    if args.list:
        ctx.out.write("".join(line + "\n" for line in sorted(rows)))
        return EXIT_OK
    if not args.names:
        for key in pool_store.foreign_keys(other):
            rows.append([key[len(schema.POOL_KEY_PREFIX):], other[key], "(not used by this version)"])
    ctx.out.write(table(rows, ["PARAMETER", "VALUE", ""]))
    return EXIT_OK


def _get_effective(ctx, args, params):
    settings, error = effective.load_override_keeping_last_good(ctx.root)
    if error:
        raise CliError(error + " (the previous values stay in force)")
    config = ctx.config()
    for problem in config.problems:
        ctx.warn(problem)
    if args.json:
        dump_json({p.name: {"value": json_value(p, config.get(p.name)), "source": config.source(p.name)}
                   for p in params}, ctx.out)
        return EXIT_OK
    rows = []
    for param in params:
        value = config.get(param.name)
        text = param.type.text(value)
        if param.secret and text:
            text = MASK
        if args.list:
            rows.append("%s=%s" % (param.name, text))
        else:
            rows.append([param.name, text, config.source(param.name)])
    if args.list:
        ctx.out.write("".join(line + "\n" for line in rows))
    else:
        ctx.out.write(table(rows, ["PARAMETER", "VALUE", "SOURCE"]))
    return EXIT_OK


def _param_for_pool(name):
    try:
        param = schema.get_param(name)
    except schema.UnknownParameter:
        raise CliError("unknown parameter %s (see: ha-cfg get)" % name) from None
    if param.host_local_only:
        raise CliError("%s is host-local: set it in %s on that host" % (param.name, paths.OVERRIDE_FILE))
    return param


def cmd_set(ctx, args):
    """Validate and store one pool parameter, keeping the old literal format."""
    param = _param_for_pool(args.name)
    text = args.value if args.value is not None else ""
    if text == "-" and param.secret:
        text = ctx.stdin.readline().rstrip("\n")
    ref, _uuid, other = ctx.pool()
    previous = other.get(param.pool_key)
    try:
        raw = pool_store.encode(param, text, previous)
    except ValueError as exc:
        raise CliError("invalid value for %s: %s" % (param.name, reason(param, exc))) from None
    changes = {param.pool_key: raw}
    if param.name == "XC_FIELD_NAME":
        changes.update(_carry_pool_field(ctx, other, raw))
    refuse_unsafe(ctx, other, changes, "%s=%s" % (param.name, MASK if param.secret else text))
    apply(ctx, ref, changes)
    ctx.invalidate()
    shown = MASK if param.secret and text else text
    ctx.say("Successfully updated %s to value: %s" % (param.name, shown))
    if param.deprecated:
        ctx.warn("%s is deprecated; the recommended setting is 0" % param.name)
    ctx.say(wait_hint(ctx))
    if param.needs_restart and previous != raw:
        restart_notice(ctx, [param.name])
    return EXIT_OK


def refuse_unsafe(ctx, other, changes, what):
    """Refuse pool changes that break the self-fencing timing rule (or a cross-value range).

    A pool that is already unsafe may still be changed (step by step back to safety); the
    admin is warned instead.
    """
    after = dict(other)
    after.update(changes)
    problem = effective.safety_problem(effective.build_effective(after, {}, "localhost").as_mapping())
    if problem is None:
        return
    before = effective.safety_problem(effective.build_effective(other, {}, "localhost").as_mapping())
    if before is None:
        raise CliError("refused: %s would make the configuration unsafe: %s" % (what, problem))
    ctx.warn("the pool configuration is unsafe, HA will not act: %s" % problem)


def _carry_pool_field(ctx, other, new_raw):
    """Renaming the XenCenter field must not silently switch pool HA off: copy the pool's value."""
    old_key = ctx.config().xc_field_key
    new_key = schema.xc_field_key(pool_store.decode(schema.get_param("XC_FIELD_NAME"), new_raw))
    if new_key == old_key:
        return {}
    ctx.warn("HA settings are now read from %s; VM values stay under %s: re-apply them with "
             "ha-cfg set-vm-ha where GLOBAL_VM_HA is 0" % (new_key, old_key))
    if old_key in other and new_key not in other:
        return {new_key: other[old_key]}
    return {}
