"""ha-cfg's command line as data: one table of subcommands, their arguments and help.

Why: argparse is built from this table, and packaging/gen_docs.py builds the man
page and the bash completion from that parser, so the three never drift apart.
"""
import argparse
from collections import namedtuple

from halizard.cli.common import EXIT_STATUS_HELP, UsageError
from halizard.cli.ha_cfg import backup, fence_test, params, plan, service, status, vms
from halizard.cli.ha_cfg.context import PROG

Arg = namedtuple("Arg", "flags options")
Command = namedtuple("Command", "name func help args")


def arg(*flags, **options):
    """One argparse argument: its flags (or positional name) and add_argument options."""
    return Arg(flags, options)


JSON = arg("--json", action="store_true")

COMMANDS = (
    Command("insert", params.cmd_insert, "write the default of every missing pool parameter", ()),
    Command("remove", params.cmd_remove, "erase every ha-lizard parameter from the pool", ()),
    Command("get", params.cmd_get,
            "list pool parameters (-l: NAME=VALUE lines, --json, --effective: with sources)", (
                arg("-l", "--list", action="store_true", help="one NAME=VALUE per line"),
                JSON,
                arg("--effective", action="store_true", help="values in force on this host, with their source"),
                arg("names", nargs="*", metavar="NAME"))),
    Command("set", params.cmd_set, "set a pool parameter: set NAME VALUE (secrets: VALUE '-' reads stdin)", (
        arg("name", metavar="NAME"),
        arg("value", nargs="?", metavar="VALUE"))),
    Command("set-vm-ha", vms.cmd_set_vm_ha, "enable/disable HA for one VM: set-vm-ha NAME true|false", (
        arg("vm", metavar="VM_NAME"),
        arg("value", metavar="true|false"))),
    Command("get-vm-ha", vms.cmd_get_vm_ha, "list VMs and their HA setting", (JSON,)),
    Command("status", status.cmd_status, "status box; offers to toggle pool HA on a terminal (--yes toggles)",
            (JSON,)),
    Command("ha-status", vms.cmd_ha_status, "print the pool HA setting: true or false", ()),
    Command("ha-enable", vms.cmd_ha_enable, "enable HA for the pool", ()),
    Command("ha-disable", vms.cmd_ha_disable, "disable HA for the pool", ()),
    Command("backup", backup.cmd_backup, "save the pool configuration to FILE (mode 0600)", (
        arg("file", metavar="FILE"),
        arg("--include-secrets", action="store_true", help="also save FENCE_PASSWD and SMTP_PASS"))),
    Command("restore", backup.cmd_restore, "restore the pool configuration from FILE (all or nothing)",
            (arg("file", metavar="FILE"),)),
    Command("restore-default", backup.cmd_restore_default, "reset every pool parameter to its default", ()),
    Command("email", service.cmd_email, "send a test alert mail", ()),
    Command("email_debug", service.cmd_email_debug, "send a test alert mail showing the SMTP conversation", ()),
    Command("show-alerts", service.cmd_show_alerts, "list active ha-lizard alerts", (JSON,)),
    Command("clear-alerts", service.cmd_clear_alerts, "delete every ha-lizard alert", ()),
    Command("log", service.cmd_log, "show and follow the ha-lizard log", (
        arg("-n", "--lines", type=int, default=50, help="lines of history (default 50)"),
        arg("--no-follow", action="store_true", help="print and exit"))),
    Command("fence-test", fence_test.cmd_fence_test,
            "read a host's power state through the configured fence agent (no change)", (
                arg("host", metavar="HOST", help="host name label or uuid"),
                arg("--action", choices=["status"], default="status",
                    help="only 'status': nothing is ever switched"))),
    Command("version", service.cmd_version, "print the version", ()),
    Command("help", None, "show this help", ()),
    Command("plan", plan.cmd_plan,
            "what if HOSTs failed: which protected VMs restart where, which not and why; the pool's tolerance", (
                arg("--fail", action="append", default=[], metavar="HOST",
                    help="a host (name or uuid) assumed failed; repeat for several"),
                JSON)),
    Command("timeline", plan.cmd_timeline,
            "the last incident (or --since a time) from every host's journal, times after the first fault", (
                arg("--since", metavar="TIME",
                    help="a window instead of the last incident: 30m, 2h, HH:MM (UTC), YYYY-MM-DD[THH:MM]"),
                JSON)),
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit status 2."""

    def error(self, message):
        raise UsageError("%s (see: ha-cfg help)" % message)


def build_parser():
    """(the argparse parser, {command name: its function}) built from COMMANDS."""
    parser = _Parser(prog=PROG, description="HA-Lizard pool configuration and HA control.",
                     epilog=EXIT_STATUS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="act as the host whose files live under DIR (default: "
                        "$HALIZARD_ROOT or /)", metavar="DIR")
    parser.add_argument("--yes", "-y", action="store_true", help="answer yes to confirmations")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        sp = sub.add_parser(command.name, help=command.help, description=command.help)
        sp.add_argument("--yes", "-y", action="store_true", dest="sub_yes", help=argparse.SUPPRESS)
        for one in command.args:
            sp.add_argument(*one.flags, **one.options)
    return parser, {command.name: command.func for command in COMMANDS}
