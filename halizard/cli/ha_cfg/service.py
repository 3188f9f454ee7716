"""ha-cfg log, version and the alert commands (email, email_debug, show-alerts, clear-alerts).

Why: the service-side commands of the old tool; the alert ones delegate to
halizard.alerts.commands, which owns the alert store and the mail path.
"""
import os
import shutil
import subprocess  # noqa: S404 - argument lists only, never a shell

from halizard import __version__, paths
from halizard.cli.common import EXIT_OK, CliError


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

