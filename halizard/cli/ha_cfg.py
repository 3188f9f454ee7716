"""`ha-cfg`: the pool configuration and HA on/off tool, one function per subcommand.

Why: admins run it daily on any host of the pool, and existing HA-Lizard
pools must switch to us in place, so it speaks the old tool's subcommands on
the same XAPI keys. Unlike the old tool, every value is validated before
anything is written, errors are one line with a documented exit status, and
no call can hang longer than XE_TIMEOUT.
"""
import argparse
import datetime
import os
import shutil
import subprocess  # noqa: S404 - argument lists only, never a shell
import sys

from halizard import __version__, hostinfo, paths
from halizard.cli import ops_commands
from halizard.cli.common import (
    EXIT_OK,
    EXIT_STATUS_HELP,
    EXIT_USAGE,
    MASK,
    CliError,
    UsageError,
    boxed,
    dump_json,
    run_main,
    table,
)
from halizard.config import cache, effective, pool_store, schema, values
from halizard.jobs import membership
from halizard.jobs.witness import witness_status
from halizard.suspension import is_suspended
from halizard.xapi.errors import XapiError, XapiTimeout

PROG = "ha-cfg"


class Context:
    """What a subcommand needs: the host root, a master session, the config, the terminal."""

    def __init__(self, root, yes=False, stdin=None, stdout=None, stderr=None):
        self.root = paths.resolve_root(root)
        self.yes = yes
        self.stdin = stdin or sys.stdin
        self.out = stdout or sys.stdout
        self.err = stderr or sys.stderr
        self._session = None
        self._config = None
        self._pool = None

    # --- connections ------------------------------------------------------------------
    @property
    def timeout(self):
        return effective.local_xe_timeout(self.root)

    def session(self):
        """A logged-in session to the master (XE_TIMEOUT deadline on every call)."""
        if self._session is None:
            from halizard.xapi.session import connect
            self._session = connect(self.root, timeout=self.timeout)
        return self._session

    def pool(self):
        """(pool_ref, pool_uuid, other_config), read fresh once per command; refreshes the cache."""
        if self._pool is None:
            self._pool = pool_store.read_other_config(self.session())
            try:
                effective.save_pool_cache(self.root, self._pool[1], self._pool[2])
            except OSError:
                pass
        return self._pool

    def config(self):
        """The EffectiveConfig of this host, with the pool read live from the master."""
        if self._config is None:
            settings, error = effective.load_override_keeping_last_good(self.root)
            _ref, pool_uuid, other = self.pool()
            self._config = effective.build_effective(
                other, settings, effective.local_hostname(self.root), override_error=error,
                pool_status="live", pool_uuid=pool_uuid)
        return self._config

    def invalidate(self):
        self._pool = None
        self._config = None

    def close(self):
        if self._session is not None:
            self._session.logout()
            self._session = None

    # --- terminal ---------------------------------------------------------------------
    def interactive(self):
        try:
            return self.stdin.isatty() and self.out.isatty()
        except (AttributeError, ValueError):
            return False

    def ask(self, question, expected):
        """True when the admin answers `expected` (on a terminal), or --yes was given."""
        if self.yes:
            return True
        if not self.interactive():
            return False
        self.out.write(question + " ")
        self.out.flush()
        answer = self.stdin.readline().strip()
        return answer == expected

    def say(self, text=""):
        self.out.write(text + "\n")

    def warn(self, text):
        self.err.write("%s: warning: %s\n" % (PROG, text))


class _Writing:
    """Around XAPI writes: a timeout there means the outcome is unknown, and the message says so."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, _tb):
        if exc_type is not None and issubclass(exc_type, XapiTimeout):
            exc.writing = True
        return False


def _apply(ctx, ref, changes):
    with _Writing():
        return pool_store.apply_changes(ctx.session(), ref, changes)


def _reason(param, exc):
    """Why a value was refused, without echoing a secret."""
    if param.secret:
        return "it cannot be stored (not shown: secret; no spaces, ';', control characters or stray quotes)"
    return str(exc)


def _display(param, raw):
    """A stored literal as `get` shows it: secrets masked when set."""
    if param.secret:
        try:
            empty = values.parse_literal(raw).text == ""
        except values.LiteralError:
            empty = False
        return raw if empty else MASK
    return raw


def _json_value(param, value):
    if param.secret:
        return MASK if value not in ("", None) else value
    if isinstance(value, tuple):
        return list(value)
    return value


def _wait_hint(ctx):
    try:
        delay = int(ctx.config().get("MONITOR_DELAY"))
    except (XapiError, LookupError):
        delay = 15
    return "Wait at least %d seconds for changes to propagate to all pool hosts" % (2 * delay)


def _restart_notice(ctx, names):
    """The old tool's prompt after a MONITOR_* change: ask on a terminal, --yes reloads."""
    ctx.say("")
    ctx.say("NOTICE: changes to %s take effect when the service reloads its settings." % ", ".join(names))
    if ctx.ask("Reload the ha-lizard service now? YES or Enter to do it later:", "YES"):
        try:
            from halizard.supervisor.control import query
            query(ctx.root, "reload", timeout=2.0)
            ctx.say("Asked the running service to reload its settings.")
        except Exception as exc:  # noqa: BLE001 - a stopped service is reported, not fatal
            ctx.say("The service did not take the request (%s); restart it with: service ha-lizard restart"
                    % exc)
    else:
        ctx.say("Not reloading now. To apply: service ha-lizard restart")


# --- subcommands: pool parameters --------------------------------------------------------
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
    _apply(ctx, ref, changes)
    for key, raw in changes.items():
        ctx.say("Inserting %s=%s" % (key, raw))
    if not changes:
        ctx.say("Every parameter is already present; nothing inserted.")
    return EXIT_OK


def cmd_remove(ctx, args):
    """Erase every HA_<NAME> parameter of the schema from the pool."""
    ref, _uuid, other = ctx.pool()
    changes = {p.pool_key: None for p in schema.POOL_PARAMETERS if p.pool_key in other}
    _apply(ctx, ref, changes)
    for key in changes:
        param = schema.get_param(key)
        ctx.say("Removing %s=%s" % (key, _display(param, other[key])))
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
    invalid = {}
    for param in params:
        if param.name in stored:
            try:
                pool_store.decode(param, stored[param.name], env)
            except ValueError:
                invalid[param.name] = True
    if args.json:
        result = {}
        for param in params:
            if param.name in stored and param.name not in invalid:
                value = pool_store.decode(param, stored[param.name], env)
            else:
                value = pool_store.decode(param, pool_store.default_literal(param), env)
            result[param.name] = _json_value(param, value)
        dump_json(result, ctx.out)
        return EXIT_OK
    rows = []
    for param in params:
        raw = stored.get(param.name)
        shown = _display(param, raw if raw is not None else pool_store.default_literal(param))
        if args.list:
            rows.append("%s=%s" % (param.name, shown))
        elif raw is None:
            rows.append([param.name, shown, "(default, not stored in the pool)"])
        else:
            rows.append([param.name, shown, "INVALID: the default applies" if param.name in invalid else ""])
    if args.list:
        ctx.out.write("".join(line + "\n" for line in sorted(rows)))
    else:
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
        dump_json({p.name: {"value": _json_value(p, config.get(p.name)), "source": config.source(p.name)}
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
        raise CliError("invalid value for %s: %s" % (param.name, _reason(param, exc))) from None
    changes = {param.pool_key: raw}
    if param.name == "XC_FIELD_NAME":
        changes.update(_carry_pool_field(ctx, other, raw))
    _refuse_unsafe(ctx, other, changes, "%s=%s" % (param.name, MASK if param.secret else text))
    _apply(ctx, ref, changes)
    ctx.invalidate()
    shown = MASK if param.secret and text else text
    ctx.say("Successfully updated %s to value: %s" % (param.name, shown))
    if param.deprecated:
        ctx.warn("%s is deprecated; the recommended setting is 0" % param.name)
    ctx.say(_wait_hint(ctx))
    if param.needs_restart and previous != raw:
        _restart_notice(ctx, [param.name])
    return EXIT_OK


def _refuse_unsafe(ctx, other, changes, what):
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


# --- VMs and the XenCenter HA field ------------------------------------------------------
def _vm_records(ctx):
    """Ordinary VMs (no templates, snapshots or control domains): ref -> record."""
    records = ctx.session().xenapi.VM.get_all_records()
    return {ref: rec for ref, rec in records.items()
            if not rec.get("is_a_template") and not rec.get("is_a_snapshot")
            and not rec.get("is_control_domain")}


def _field_state(raw):
    state = pool_store.flag_state(raw)
    return {"missing": "unset", "invalid": "INVALID(%s)" % raw}.get(state, state)


def cmd_set_vm_ha(ctx, args):
    """Set one VM's HA field to true/false; the name must match exactly one VM."""
    if args.value not in pool_store.TRUE_FALSE:
        raise CliError("invalid HA setting %r for VM %s: must be true or false" % (args.value, args.vm))
    session = ctx.session()
    refs = list(session.xenapi.VM.get_by_name_label(args.vm))
    vms = _vm_records(ctx) if refs else {}
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
        with _Writing():
            if current is not None:
                session.xenapi.VM.remove_from_other_config(ref, key)
            session.xenapi.VM.add_to_other_config(ref, key, args.value)
    ctx.say("Success: VM %s (UUID %s) HA set to %s" % (args.vm, record["uuid"], args.value))
    ctx.say(_wait_hint(ctx))
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
    for _ref, rec in sorted(_vm_records(ctx).items(), key=lambda item: (item[1].get("name_label", ""),
                                                                        item[1].get("uuid", ""))):
        raw = (rec.get("other_config") or {}).get(key)
        rows.append({"uuid": rec.get("uuid", ""), "name_label": rec.get("name_label", ""),
                     "power_state": rec.get("power_state", ""), "ha_field": raw,
                     "ha_state": pool_store.flag_state(raw)})
    _add_vm_reasons(ctx, config, rows)
    invalid = [r for r in rows if r["ha_state"] == "invalid"]
    waiting = list(membership.waiting(ctx.root, config, hostinfo.local_host_uuid(ctx.root)))
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
    if state in pool_store.TRUE_FALSE:
        ctx.say(state)
        return EXIT_OK
    ctx.say("unset" if state == "missing" else "invalid")
    ctx.warn("pool field %s is %s: HA is not active (run ha-cfg ha-enable or ha-disable)"
             % (key, "not set" if state == "missing" else "set to the invalid value %r" % raw))
    return EXIT_OK


def _set_pool_field(ctx, value):
    ref, key, raw = _pool_field(ctx)
    if raw != value:
        _apply(ctx, ref, {key: value})
    ctx.invalidate()


def cmd_ha_enable(ctx, args):
    _set_pool_field(ctx, "true")
    ctx.say("Success: pool HA enabled")
    return EXIT_OK


def cmd_ha_disable(ctx, args):
    _set_pool_field(ctx, "false")
    ctx.say("Success: pool HA disabled")
    return EXIT_OK


# --- status -------------------------------------------------------------------------------
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
        facts["ha_state"] = config.pool_ha_state()
        key = config.xc_field_key
        facts["invalid_vm_fields"] = sorted(
            rec.get("name_label", rec.get("uuid", "?")) for rec in _vm_records(ctx).values()
            if pool_store.flag_state((rec.get("other_config") or {}).get(key)) == "invalid")
        facts["failure_tolerance"] = ops_commands.tolerance_fact(ctx)
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
        "not set" if facts["ha_state"] == "missing" else facts["ha_state"])
    lines.append("HA Enabled:        %s" % shown_field)
    if facts["witness"] is not None:
        lines.append("Witness:           %s" % facts["witness"]["text"])
    lines.append("Failure Tolerance: %s" % ((facts["failure_tolerance"] or {}).get("text") or "unknown"))
    ctx.out.write(boxed(lines))
    state = facts["ha_state"]
    if error is not None:
        ctx.say("Pool HA Status: UNKNOWN (the pool master did not answer: %s)" % error)
        return run_status_exit(error)
    if state == "true":
        ctx.say("Pool HA Status: ENABLED")
    elif state == "false":
        ctx.say("Pool HA Status: DISABLED")
    else:
        ctx.say("Pool HA Status: INVALID - %s is %s; HA is not active" % (
            ctx.config().xc_field_key, "not set" if state == "missing" else "%r" % facts["ha_field"]))
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
    if state in ("true", "false"):
        new = "false" if state == "true" else "true"
        verb = "Disable" if state == "true" else "Enable"
        if ctx.ask("ha-lizard is %s. %s? <yes or Enter to quit>" % (
                "enabled" if state == "true" else "disabled", verb), "yes"):
            _set_pool_field(ctx, new)
            ctx.say("Success: pool HA %s. %s" % ("enabled" if new == "true" else "disabled", _wait_hint(ctx)))
    return EXIT_OK


def run_status_exit(error):
    if error is None:
        return EXIT_OK
    from halizard.cli.common import describe_error
    return describe_error(error)[1]


# --- backup / restore ---------------------------------------------------------------------
def cmd_backup(ctx, args):
    """Write every pool parameter as NAME=literal lines (the old format), mode 0600."""
    _ref, pool_uuid, other = ctx.pool()
    stored = pool_store.stored_literals(other)
    lines = ["# ha-lizard pool configuration, pool %s, %s" % (
        pool_uuid, datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))]
    omitted = []
    for param in sorted(schema.POOL_PARAMETERS, key=lambda p: p.name):
        raw = stored.get(param.name, pool_store.default_literal(param))
        if param.secret and not args.include_secrets:
            omitted.append(param.name)
            continue
        lines.append("%s=%s" % (param.name, raw))
    if omitted:
        lines.append("# left out (use --include-secrets): %s" % ", ".join(omitted))
    target = os.path.abspath(args.file)
    if not os.path.isdir(os.path.dirname(target)):
        raise CliError("cannot write %s: directory does not exist" % args.file)
    if os.path.isdir(target):
        raise CliError("cannot write %s: it is a directory" % args.file)
    try:
        cache.write_atomic(target, "\n".join(lines) + "\n", 0o600)
    except OSError as exc:
        raise CliError("cannot write %s: %s" % (args.file, exc.strerror)) from None
    ctx.say("Saved %d parameters to %s%s" % (len(lines) - 1 - (1 if omitted else 0), args.file,
                                            " (secrets left out)" if omitted else ""))
    return EXIT_OK


def parse_backup(text, name):
    """(NAME -> literal, ignored legacy names) of a backup file; CliError naming the first bad line."""
    found = {}
    ignored = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, raw = stripped.partition("=")
        if not sep or not key:
            raise CliError("%s line %d: expected NAME=VALUE, got %r; nothing restored" % (name, number, stripped[:60]))
        bare = key.upper()[3:] if key.upper().startswith(schema.POOL_KEY_PREFIX) else key.upper()
        if bare in schema.LEGACY_POOL_NAMES:
            ignored.append(key)
            continue
        try:
            param = schema.get_param(key)
        except schema.UnknownParameter:
            raise CliError("%s line %d: unknown parameter %s; nothing restored" % (name, number, key)) from None
        if param.name in found:
            raise CliError("%s line %d: %s appears twice; nothing restored" % (name, number, param.name))
        try:
            found[param.name] = pool_store.validate_literal(param, raw)
        except ValueError as exc:
            raise CliError("%s line %d: invalid value for %s: %s; nothing restored"
                           % (name, number, param.name, _reason(param, exc))) from None
    if not found:
        raise CliError("%s holds no parameters; nothing restored" % name)
    return found, ignored


def cmd_restore(ctx, args):
    """Apply a backup file: every line is validated first; one bad line rejects the whole file."""
    try:
        with open(args.file, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError("cannot read %s: %s" % (args.file, getattr(exc, "strerror", None) or "not text")) from None
    found, ignored = parse_backup(text, args.file)
    for key in ignored:
        ctx.warn("ignored %s: a setting of the old product that is no longer used" % key)
    ref, _uuid, other = ctx.pool()
    changes = {schema.PARAMETERS[name].pool_key: raw for name, raw in found.items()}
    _refuse_unsafe(ctx, other, changes, "restoring %s (nothing restored)" % args.file)
    changed = _apply(ctx, ref, changes)
    ctx.invalidate()
    ctx.say("Restored %d parameters from %s (%d changed)" % (len(found), args.file, len(changed)))
    restart = [schema.get_param(k).name for k in changed if schema.get_param(k).needs_restart]
    if restart:
        _restart_notice(ctx, restart)
    return EXIT_OK


def cmd_restore_default(ctx, args):
    """Reset every pool parameter to its default (asks first; --yes when not on a terminal)."""
    if not ctx.yes and not ctx.interactive():
        raise UsageError("restore-default changes every pool parameter: confirm with --yes")
    if not ctx.ask("Restore default values for the pool. Are you sure [y|n]?", "y"):
        ctx.say("Nothing changed.")
        return EXIT_OK
    ref, _uuid, other = ctx.pool()
    changes = {}
    for param in schema.POOL_PARAMETERS:
        previous = other.get(param.pool_key)
        changes[param.pool_key] = pool_store.encode(param, param.default_text(), previous)
    changed = _apply(ctx, ref, changes)
    ctx.invalidate()
    ctx.say("Restored the defaults of %d parameters (%d changed)" % (len(changes), len(changed)))
    restart = [schema.get_param(k).name for k in changed if schema.get_param(k).needs_restart]
    if restart:
        _restart_notice(ctx, restart)
    return EXIT_OK


# --- delegated: alerts --------------------------------------------------------------------
def _alerts():
    try:
        from halizard.alerts import commands
    except ImportError as exc:
        raise CliError("alert commands are not available (%s)" % exc) from None
    return commands


def cmd_email(ctx, args):
    return _alerts().cmd_email(ctx, False)


def cmd_email_debug(ctx, args):
    return _alerts().cmd_email(ctx, True)


def cmd_show_alerts(ctx, args):
    return _alerts().cmd_show_alerts(ctx, args.json)


def cmd_clear_alerts(ctx, args):
    return _alerts().cmd_clear_alerts(ctx)


# --- fence-test ----------------------------------------------------------------------------
FENCE_TEST_SECONDS = 30


def _fence_target(ctx, host):
    """(uuid, label) of HOST: a host uuid as is, else a name label looked up on the master."""
    from halizard.fence.hostmap import is_uuid

    if is_uuid(host):
        return host.lower(), host
    session = ctx.session()
    refs = list(session.xenapi.host.get_by_name_label(host))
    if not refs:
        raise CliError("no host named %r in the pool" % host)
    if len(refs) > 1:
        raise CliError("%d hosts are named %r: give the host uuid" % (len(refs), host))
    return session.xenapi.host.get_uuid(refs[0]), host


def cmd_fence_test(ctx, args):
    """Ask the configured fence agent for HOST's power state; nothing is switched."""
    from halizard.fence import registry
    from halizard.fence.base import FenceConfigError
    from halizard.probes.deadline import after

    host_uuid, label = _fence_target(ctx, args.host)
    config = ctx.config()
    try:
        agent = registry.agent_from_config(config, ctx.root)
    except FenceConfigError as exc:
        raise CliError("fencing is not usable: %s" % exc) from None
    result = agent.status(host_uuid, after(FENCE_TEST_SECONDS))
    if result.verified:
        ctx.say("%s (%s): power %s, read by %s: %s" % (label, host_uuid, result.state, agent.name, result.detail))
        return EXIT_OK
    raise CliError("%s could not read the power state of %s (%s): %s" % (agent.name, label, host_uuid,
                                                                          result.detail))


# --- log, version, help -------------------------------------------------------------------
LOG_FILES = ("/var/log/messages", "/var/log/user.log", "/var/log/syslog")


def cmd_log(ctx, args):
    """Show (and follow) the ha-lizard log: journald when present, else the syslog file."""
    journalctl = shutil.which("journalctl")
    if ctx.root == "/" and journalctl:
        argv = [journalctl, "-t", "ha-lizard", "-n", str(args.lines), "--no-pager"]
        if not args.no_follow:
            argv.append("-f")
        return subprocess.call(argv)  # noqa: S603 - fixed argument list
    for candidate in LOG_FILES:
        path = paths.under(ctx.root, candidate)
        if os.path.exists(path):
            return _show_log_file(ctx, path, args.lines, not args.no_follow)
    raise CliError("no ha-lizard log found (journalctl absent and none of %s exists under %s)"
                   % (", ".join(LOG_FILES), ctx.root))


def _show_log_file(ctx, path, lines, follow):
    if follow:
        tail = shutil.which("tail")
        if not tail:
            raise CliError("tail is not installed; use: ha-cfg log --no-follow")
        proc = subprocess.Popen([tail, "-n", "+1", "-F", path], stdout=subprocess.PIPE,  # noqa: S603
                                universal_newlines=True, errors="replace")
        try:
            for line in proc.stdout:
                if "ha-lizard" in line:
                    ctx.out.write(line)
                    ctx.out.flush()
        finally:
            proc.terminate()
            proc.wait(timeout=5)
        return EXIT_OK
    with open(path, encoding="utf-8", errors="replace") as handle:
        matching = [line for line in handle if "ha-lizard" in line]
    ctx.out.write("".join(matching[-lines:] if lines else matching))
    return EXIT_OK


def cmd_version(ctx, args):
    ctx.say("Version %s" % __version__)
    return EXIT_OK


# --- the command line spec ----------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit status 2."""

    def error(self, message):
        raise UsageError("%s (see: ha-cfg help)" % message)


SUBCOMMANDS = [
    # name, function, help, needs a session
    ("insert", cmd_insert, "write the default of every missing pool parameter"),
    ("remove", cmd_remove, "erase every ha-lizard parameter from the pool"),
    ("get", cmd_get, "list pool parameters (-l: NAME=VALUE lines, --json, --effective: with sources)"),
    ("set", cmd_set, "set a pool parameter: set NAME VALUE (secrets: VALUE '-' reads stdin)"),
    ("set-vm-ha", cmd_set_vm_ha, "enable/disable HA for one VM: set-vm-ha NAME true|false"),
    ("get-vm-ha", cmd_get_vm_ha, "list VMs and their HA setting"),
    ("status", cmd_status, "status box; offers to toggle pool HA on a terminal (--yes toggles)"),
    ("ha-status", cmd_ha_status, "print the pool HA setting: true or false"),
    ("ha-enable", cmd_ha_enable, "enable HA for the pool"),
    ("ha-disable", cmd_ha_disable, "disable HA for the pool"),
    ("backup", cmd_backup, "save the pool configuration to FILE (mode 0600)"),
    ("restore", cmd_restore, "restore the pool configuration from FILE (all or nothing)"),
    ("restore-default", cmd_restore_default, "reset every pool parameter to its default"),
    ("email", cmd_email, "send a test alert mail"),
    ("email_debug", cmd_email_debug, "send a test alert mail showing the SMTP conversation"),
    ("show-alerts", cmd_show_alerts, "list active ha-lizard alerts"),
    ("clear-alerts", cmd_clear_alerts, "delete every ha-lizard alert"),
    ("log", cmd_log, "show and follow the ha-lizard log"),
    ("fence-test", cmd_fence_test, "read a host's power state through the configured fence agent (no change)"),
    ("version", cmd_version, "print the version"),
    ("help", None, "show this help"),
]


def build_parser():
    parser = _Parser(prog=PROG, description="HA-Lizard pool configuration and HA control.",
                     epilog=EXIT_STATUS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="act as the host whose files live under DIR (default: "
                        "$HALIZARD_ROOT or /)", metavar="DIR")
    parser.add_argument("--yes", "-y", action="store_true", help="answer yes to confirmations")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    specs = {}
    for name, func, text in SUBCOMMANDS:
        sp = sub.add_parser(name, help=text, description=text)
        sp.add_argument("--yes", "-y", action="store_true", dest="sub_yes", help=argparse.SUPPRESS)
        specs[name] = (sp, func)
    ops_commands.register(sub, specs)  # plan, timeline (issue 17)
    specs["get"][0].add_argument("-l", "--list", action="store_true", help="one NAME=VALUE per line")
    specs["get"][0].add_argument("--json", action="store_true")
    specs["get"][0].add_argument("--effective", action="store_true",
                                 help="values in force on this host, with their source")
    specs["get"][0].add_argument("names", nargs="*", metavar="NAME")
    specs["set"][0].add_argument("name", metavar="NAME")
    specs["set"][0].add_argument("value", nargs="?", metavar="VALUE")
    specs["set-vm-ha"][0].add_argument("vm", metavar="VM_NAME")
    specs["set-vm-ha"][0].add_argument("value", metavar="true|false")
    for name in ("get-vm-ha", "status", "show-alerts"):
        specs[name][0].add_argument("--json", action="store_true")
    specs["backup"][0].add_argument("file", metavar="FILE")
    specs["backup"][0].add_argument("--include-secrets", action="store_true",
                                    help="also save FENCE_PASSWD and SMTP_PASS")
    specs["restore"][0].add_argument("file", metavar="FILE")
    specs["fence-test"][0].add_argument("host", metavar="HOST", help="host name label or uuid")
    specs["fence-test"][0].add_argument("--action", choices=["status"], default="status",
                                        help="only 'status': nothing is ever switched")
    specs["log"][0].add_argument("-n", "--lines", type=int, default=50, help="lines of history (default 50)")
    specs["log"][0].add_argument("--no-follow", action="store_true", help="print and exit")
    return parser, {name: func for name, (_sp, func) in specs.items()}


def main(argv=None, stdin=None, stdout=None, stderr=None):
    """Entry point: returns the exit status (console script: sys.exit(main()))."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = stdout or sys.stdout
    ctx_holder = []

    def body():
        parser, funcs = build_parser()
        args = parser.parse_args(argv)
        if args.command in (None, "help"):
            out.write(parser.format_help())
            return EXIT_OK if args.command == "help" else EXIT_USAGE
        ctx = Context(args.root, yes=args.yes or getattr(args, "sub_yes", False),
                      stdin=stdin, stdout=stdout, stderr=stderr)
        ctx_holder.append(ctx)
        return funcs[args.command](ctx, args)

    try:
        return run_main(PROG, body, stderr)
    finally:
        for ctx in ctx_holder:
            ctx.close()


if __name__ == "__main__":
    sys.exit(main())
