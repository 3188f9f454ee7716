"""ha-cfg backup, restore and restore-default: the pool configuration as NAME=literal lines.

Why: the old tool's file format, so existing backups restore; every line is
validated before anything is written (one bad line rejects the whole file), and
secrets stay out of the file unless asked for.
"""
import datetime
import os

from halizard.cli.common import EXIT_OK, CliError, UsageError
from halizard.cli.ha_cfg.context import apply, reason, restart_notice
from halizard.cli.ha_cfg.params import refuse_unsafe
from halizard.config import cache, pool_store, schema


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
                           % (name, number, param.name, reason(param, exc))) from None
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
    refuse_unsafe(ctx, other, changes, "restoring %s (nothing restored)" % args.file)
    changed = apply(ctx, ref, changes)
    ctx.invalidate()
    ctx.say("Restored %d parameters from %s (%d changed)" % (len(found), args.file, len(changed)))
    restart = [schema.get_param(k).name for k in changed if schema.get_param(k).needs_restart]
    if restart:
        restart_notice(ctx, restart)
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
    changed = apply(ctx, ref, changes)
    ctx.invalidate()
    ctx.say("Restored the defaults of %d parameters (%d changed)" % (len(changes), len(changed)))
    restart = [schema.get_param(k).name for k in changed if schema.get_param(k).needs_restart]
    if restart:
        restart_notice(ctx, restart)
    return EXIT_OK

