"""`ha-lizard sim up|fault|status|down`: drive a simulated XAPI pool from the shell.

Why: tests, the demo and people all start, break and inspect simulated pools
the same way. Exit status: 0 done, 1 failure (pool not running, did not come
up...), 2 usage (bad arguments, unknown action, host or VM name). Every
error is one line on stderr.

This module holds the command line and the entry point; cli_lifecycle runs
up and down, cli_faults fault, service and status.
"""
import argparse
import sys

from halizard.sim.addresses import MAX_HOSTS
from halizard.sim.cli_faults import ACTIONS, cmd_fault, cmd_service, cmd_status, format_status
from halizard.sim.cli_lifecycle import Failure, UsageError, cmd_down, cmd_up, read_pool_file

__all__ = ["Failure", "UsageError", "build_parser", "format_status", "main", "read_pool_file"]

DEFAULT_DIR = "sim-pool"

DESCRIPTION = """\
Simulated XCP-ng / XenServer pool: one XAPI endpoint per simulated host, each
on its own loopback address (127.x.y.N, port 80), plus a control endpoint and
an outer dom0 (outer_url) that shows every simulated host as a VM (XVM fencing).
The simulator keeps ground truth (where domains really run) apart from the
XAPI database (what the master believes).

  up      start a pool in the background; writes DIR/pool.json
          (--bmcs: also a simulated IPMI BMC per host, for hardware fencing;
           --services: also each host's ha-lizard service, as `sim service start` does;
           --witness: also a witness service (`ha-lizard witness`) on 127.x.y.200,
           pool.json "witness": {"address", "port", "secret"} for WITNESS_ADDRESS/SECRET)
  service start HOST [-- COMMAND...]
          the simulator runs HOST's service (default: ha-lizard --root ROOT run
          --log-file ROOT/service.log; output appended to ROOT/service.stderr) with
          this command's environment and working directory, and owns it:
          power-off SIGKILLs its whole process tree, power-on starts it again,
          reboot does both, freeze SIGSTOPs it and the resume SIGCONTs it
  service stop HOST
          stop it as an administrator would (SIGTERM, tree killed after 10 s), forget it
  fault   inject a fault:
            power-off|power-on|reboot|hang-xapi|unhang-xapi|link-down|link-up HOST...
            disk-fail|disk-ok HOST...  (what the host's SMART check reports)
            crash-vm VM...
            pause-vm|unpause-vm VM...  (xl pause: the domain stays, runs no guest code;
                                        unpausing beside a running copy is a double run)
            leave-paused VM HOST       (HOST keeps a paused domain of VM that XAPI places
                                        elsewhere: a live migration's source whose last step
                                        was cut off, a start a toolstack restart interrupted)
            freeze HOST SECONDS        (the whole dom0 stops: its xapi calls and network probes
                                        hang, its service is SIGSTOPped; its guests keep running;
                                        after SECONDS it resumes where it was)
            partition GROUP GROUP...   (each GROUP: host names joined by commas; names left
                                        out, the gateway included, form one more group)
            cut A B                    (only the link between A and B is down, both ways;
                                        each still reaches the others)
            cut-oneway A B             (A's packets do not reach B; B's still reach A)
            heal                       (ends every partition and every cut; link-down
                                        stays until link-up)
          "gateway" names the pool's gateway (pool.json "gateway", it answers the
          reachability probe: use it in FENCE_HEURISTICS_IPS) in partition, cut,
          cut-oneway, power-off, power-on, reboot, link-down and link-up; "witness"
          names the witness (--witness) the same way (its service restarts at power-on).
  status  hosts (power, xapi, role, service, frozen), VMs (database vs. ground truth), violations;
          --json also: cut links, the gateway, XAPI calls served per host and method
  down    stop the pool and free its addresses

Each host's root directory (DIR/hosts/<name>) holds etc/xensource/pool.conf,
etc/xensource-inventory, etc/ha-lizard/ and var/lib/ha-lizard/: run
`ha-lizard --root ROOT ...` or `ha-cfg --root ROOT ...` to act as that host.
Exit status: 0 ok, 1 failure, 2 usage error.
"""


FAULT_HELP = "Actions:\n" + DESCRIPTION.split("  fault   inject a fault:\n", 1)[1].split("  status ", 1)[0]
SERVICE_HELP = "  " + DESCRIPTION.split("  service ", 1)[1].split("  fault ", 1)[0].replace("start HOST", "service start HOST")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError("%s: %s" % (self.prog, message))


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not an integer: %r" % text) from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative: %r" % text)
    return value


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number of seconds: %r" % text) from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError("seconds must be within 0..3600: %r" % text)
    return value


def build_parser():
    parser = _Parser(prog="ha-lizard sim", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="{up,service,fault,status,down}", parser_class=_Parser)

    def add_dir(sub):
        sub.add_argument("--dir", default=DEFAULT_DIR,
                         help="pool directory (pool.json, sim.log, hosts/); default ./%s" % DEFAULT_DIR)

    up = commands.add_parser("up", help="start a simulated pool in the background")
    up.add_argument("--hosts", type=_positive_int, default=3, help="number of hosts (1..%d, default 3)" % MAX_HOSTS)
    up.add_argument("--vms", type=_positive_int, default=6, help="number of VMs (default 6)")
    add_dir(up)
    up.add_argument("--start-latency", type=_seconds, default=0.5, help="seconds a VM start takes (default 0.5)")
    up.add_argument("--shutdown-latency", type=_seconds, default=0.1,
                    help="seconds a VM shutdown takes, its operation visible meanwhile (default 0.1)")
    up.add_argument("--fuse", type=_seconds, default=10.0,
                    help="seconds an emergency transition keeps xapi down (default 10)")
    up.add_argument("--bmcs", action="store_true",
                    help="also a simulated IPMI BMC per host (127.x.y.201+, UDP 623; listed under pool.json"
                         " 'bmcs') for ILO/IRMC/fence_ipmilan fencing; needs pyghmi (the test extra)")
    up.add_argument("--services", action="store_true",
                    help="also run each host's ha-lizard service, owned by the simulator (see `service start`)")
    up.add_argument("--witness", action="store_true",
                    help="also a witness service on 127.x.y.200 (pool.json 'witness': address, port, secret);"
                         " fault target 'witness'")

    service = commands.add_parser("service", help="let the simulator run (and power faults act on) a host's service",
                                  description=SERVICE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dir(service)
    service.add_argument("verb", choices=("start", "stop"))
    service.add_argument("host", metavar="HOST")
    service.add_argument("command_argv", metavar="COMMAND", nargs=argparse.REMAINDER,
                         help="after --: the service's command (default: ha-lizard --root ROOT run)")

    fault = commands.add_parser("fault", help="inject a fault", description=FAULT_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dir(fault)
    fault.add_argument("action", metavar="ACTION", help="one of: " + ", ".join(ACTIONS))
    fault.add_argument("targets", metavar="TARGET", nargs="*", help="host names, VM names or comma-joined groups")

    status = commands.add_parser("status", help="show hosts, VMs and violations")
    add_dir(status)
    status.add_argument("--json", action="store_true", help="machine-readable (architecture.md)")

    down = commands.add_parser("down", help="stop the pool")
    add_dir(down)
    return parser


COMMANDS = {"up": cmd_up, "service": cmd_service, "fault": cmd_fault, "status": cmd_status, "down": cmd_down}


def main(argv=None):
    """Entry point of `ha-lizard sim ...`; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help(sys.stderr)
            return 2
        return COMMANDS[args.command](args)
    except UsageError as exc:
        sys.stderr.write(_one_line(exc) + "\n")
        return 2
    except Failure as exc:
        sys.stderr.write(_one_line(exc) + "\n")
        return 1
    except OSError as exc:
        sys.stderr.write(_one_line("%s: %s" % (exc.filename or "system error", exc.strerror or exc)) + "\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("ha-lizard sim: interrupted\n")
        return 130


def _one_line(exc):
    """The error as one line, starting with the command that failed."""
    text = " ".join(str(exc).split())
    return text if text.startswith("ha-lizard sim") else "ha-lizard sim: " + text


if __name__ == "__main__":
    sys.exit(main())
