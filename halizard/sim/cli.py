"""`ha-lizard sim up|fault|status|down`: drive a simulated XAPI pool from the shell.

Why: tests, the demo and people all start, break and inspect simulated pools
the same way. Exit status: 0 done, 1 failure (pool not running, did not come
up...), 2 usage (bad arguments, unknown action, host or VM name). Every
error is one line on stderr.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

from halizard.sim import control
from halizard.sim.addresses import MAX_HOSTS, BoundTransport
from halizard.sim.daemon import LOG_FILE, PID_FILE, POOL_FILE
from halizard.sim.probe import probe
from halizard.sim.services import default_env

DEFAULT_DIR = "sim-pool"
UP_DEADLINE = 60.0
DOWN_DEADLINE = 15.0
HOST_ACTIONS = ("power-off", "power-on", "reboot", "hang-xapi", "unhang-xapi", "link-down", "link-up",
                "disk-fail", "disk-ok")
VM_ACTIONS = ("crash-vm", "pause-vm", "unpause-vm")
VM_HOST_ACTIONS = ("leave-paused",)
HOST_SECONDS_ACTIONS = ("freeze",)
GROUP_ACTIONS = ("partition",)
PAIR_ACTIONS = ("cut", "cut-oneway")
BARE_ACTIONS = ("heal",)
ACTIONS = (HOST_ACTIONS + VM_ACTIONS + VM_HOST_ACTIONS + HOST_SECONDS_ACTIONS + GROUP_ACTIONS + PAIR_ACTIONS
           + BARE_ACTIONS)

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


class UsageError(Exception):
    """Bad input: one line, exit 2."""


class Failure(Exception):
    """Could not do it: one line, exit 1."""


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


# --- pool directory -------------------------------------------------------

def _read_pid(directory):
    try:
        with open(os.path.join(directory, PID_FILE), encoding="utf-8") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def _is_our_daemon(pid, directory):
    """True when `pid` is alive and is the simulator daemon of `directory` (guards against pid reuse)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return b"halizard.sim.daemon" in argv and os.fsencode(directory) in argv


def read_pool_file(directory):
    """pool.json of a running pool, or Failure."""
    path = os.path.join(directory, POOL_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise Failure("no simulated pool running in %s (no %s)" % (directory, POOL_FILE)) from None
    except OSError as exc:
        raise Failure("cannot read %s: %s" % (path, exc.strerror or exc)) from None
    except ValueError:
        raise Failure("cannot read %s: not valid JSON" % path) from None


def _control(directory, method, *params):
    document = read_pool_file(directory)
    try:
        return control.call(document["control_url"], method, *params, timeout=30.0)
    except control.ControlUsageError as exc:
        raise UsageError(str(exc)) from None
    except control.ControlError as exc:
        raise Failure(str(exc)) from None


# --- up -------------------------------------------------------------------

def _log_tail(directory, lines=3):
    try:
        with open(os.path.join(directory, LOG_FILE), encoding="utf-8", errors="replace") as handle:
            tail = [line.strip() for line in handle.read().splitlines() if line.strip()][-lines:]
    except OSError:
        return ""
    return " | ".join(tail)


def _xapi_answers(url, password=""):
    """Any XAPI answer (Success, HOST_IS_SLAVE from a slave, SESSION_AUTHENTICATION_FAILED from a master
    asked with no password) proves the endpoint serves. The password only goes over HTTPS."""
    import XenAPI

    tls = url.startswith("https:")
    session = XenAPI.Session(url, transport=BoundTransport(timeout=5.0, tls=tls))
    try:
        session.login_with_password("root", password if tls else "", "2.0", "ha-lizard-sim")
    except XenAPI.Failure as failure:
        return failure.details[0] in ("HOST_IS_SLAVE", "SESSION_AUTHENTICATION_FAILED")
    except OSError:
        return False
    try:
        session.xenapi.session.logout()
    except (XenAPI.Failure, OSError):
        pass
    return True


def _endpoints_answer(document):
    try:
        control.call(document["control_url"], "ping", timeout=5.0)
    except control.ControlError:
        return False
    if not _xapi_answers(document["outer_url"], document.get("outer_password") or ""):
        return False
    status = control.call(document["control_url"], "status", timeout=10.0)
    ports = {}
    for host in document["hosts"]:
        ports[host["uuid"]] = _probe_port(host["root"])
    for host in document["hosts"]:
        if not _xapi_answers(host["xapi_url"]):
            return False
        if not probe(host["address"], ports[host["uuid"]], timeout=5.0):
            return False
    return bool(status["hosts"])


def _probe_port(root):
    from halizard.sim.roots import read_sim_host

    marker = read_sim_host(root) or {}
    return int(marker.get("probe_port", 7))


def cmd_up(args):
    directory = os.path.abspath(args.dir)
    if not 1 <= args.hosts <= MAX_HOSTS:
        raise UsageError("ha-lizard sim up: --hosts must be within 1..%d" % MAX_HOSTS)
    os.makedirs(directory, exist_ok=True)
    pid = _read_pid(directory)
    if pid and _is_our_daemon(pid, directory):
        raise Failure("a simulated pool already runs in %s (pid %d): run `ha-lizard sim down --dir %s` first"
                      % (directory, pid, directory))
    for name in (POOL_FILE, PID_FILE):
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    command = [sys.executable, "-m", "halizard.sim.daemon", "--dir", directory,
               "--hosts", str(args.hosts), "--vms", str(args.vms),
               "--start-latency", repr(args.start_latency), "--shutdown-latency", repr(args.shutdown_latency),
               "--fuse", repr(args.fuse)]
    if args.bmcs:
        command.append("--bmcs")
    if args.services:
        command.append("--services")
    if args.witness:
        command.append("--witness")
    with open(os.path.join(directory, LOG_FILE), "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   cwd=directory, close_fds=True, start_new_session=True)
    deadline = time.monotonic() + UP_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Failure("simulated pool did not start (exit %s): %s" % (process.returncode, _log_tail(directory)))
        if os.path.exists(os.path.join(directory, POOL_FILE)):
            document = read_pool_file(directory)
            if _endpoints_answer(document):
                _print_up(directory, document)
                return 0
        time.sleep(0.05)
    _stop_pid(process.pid, directory)
    raise Failure("simulated pool did not answer within %d s: %s" % (UP_DEADLINE, _log_tail(directory)))


def _print_up(directory, document):
    print("simulated pool up in %s: %d hosts, %d VMs" % (directory, len(document["hosts"]), len(document["vms"])))
    for host in document["hosts"]:
        print("  %-8s %-15s %s" % (host["name_label"], host["address"], host["root"]))
    print("  control %s  outer dom0 %s" % (document["control_url"], document["outer_url"]))
    if document.get("gateway"):
        print("  gateway %s (answers the reachability probe: a FENCE_HEURISTICS_IPS address)" % document["gateway"])
    if document.get("witness"):
        print("  witness %s:%d (secret in pool.json; fault target 'witness')"
              % (document["witness"]["address"], document["witness"]["port"]))
    bmcs = document.get("bmcs") or {}
    if bmcs:
        first = sorted(entry["address"] for entry in bmcs.values())[0]
        print("  BMCs (IPMI lanplus, user/password in pool.json) from %s, one per host" % first)
    print("  details: %s" % os.path.join(directory, POOL_FILE))


# --- fault / status -------------------------------------------------------

def cmd_fault(args):
    directory = os.path.abspath(args.dir)
    action, targets = args.action, list(args.targets)
    if action not in ACTIONS:
        raise UsageError("ha-lizard sim fault: unknown action %r (one of: %s)" % (action, ", ".join(ACTIONS)))
    if action in BARE_ACTIONS and targets:
        raise UsageError("ha-lizard sim fault %s takes no target" % action)
    if action in HOST_ACTIONS + VM_ACTIONS and not targets:
        kind = "VM" if action in VM_ACTIONS else "host"
        raise UsageError("ha-lizard sim fault %s needs at least one %s name" % (action, kind))
    if action in VM_HOST_ACTIONS and len(targets) != 2:
        raise UsageError("ha-lizard sim fault %s needs a VM name and a host name" % action)
    if action in HOST_SECONDS_ACTIONS:
        _check_freeze(targets)
    if action in PAIR_ACTIONS and len(targets) != 2:
        raise UsageError("ha-lizard sim fault %s needs exactly two names (e.g. host1 host2)" % action)
    if action in PAIR_ACTIONS and targets[0] == targets[1]:
        raise UsageError("ha-lizard sim fault %s: cannot cut %s from itself" % (action, targets[0]))
    if action in GROUP_ACTIONS and len(targets) < 2:
        raise UsageError("ha-lizard sim fault partition needs at least two groups (e.g. host1 host2,host3)")
    if any(not target.strip() for target in targets):
        raise UsageError("ha-lizard sim fault: empty target name")
    _control(directory, "fault", action, targets)
    print("%s %s" % (action, " ".join(targets)) if targets else action)
    return 0


def _check_freeze(targets):
    if len(targets) != 2:
        raise UsageError("ha-lizard sim fault freeze needs a host name and a number of seconds")
    try:
        seconds = float(targets[1])
    except ValueError:
        raise UsageError("ha-lizard sim fault freeze: not a number of seconds: %r" % targets[1]) from None
    if not seconds > 0 or seconds == float("inf"):
        raise UsageError("ha-lizard sim fault freeze: seconds must be more than 0: %r" % targets[1])


# --- service --------------------------------------------------------------

def cmd_service(args):
    directory = os.path.abspath(args.dir)
    argv = list(args.command_argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    document = read_pool_file(directory)
    token = document.get("control_token")
    if args.verb == "stop":
        if argv:
            raise UsageError("ha-lizard sim service stop takes only a host name")
        _control(directory, "service_stop", token, args.host, 10.0)
        print("service of %s stopped" % args.host)
        return 0
    env = dict(os.environ) if argv else default_env()  # the default service is never our supervisor's child
    state = _control(directory, "service_start", token, args.host, argv or None, env, os.getcwd() if argv else None)
    print("service of %s: %s%s" % (args.host, state["service"], " (pid %d)" % state["pid"] if state["pid"] else ""))
    return 0


def _names(status):
    return {host["uuid"]: host["name_label"] for host in status["hosts"]}


def _where(value, names):
    if value in (None, "", "OpaqueRef:NULL"):
        return "-"
    return names.get(value, value)


def format_status(status):
    """The human table of a status document."""
    names = _names(status)
    lines = ["%-10s %-36s %-5s %-5s %-6s %s" % ("HOST", "UUID", "POWER", "XAPI", "ROLE", "SERVICE")]
    for host in status["hosts"]:
        service = host.get("service", "none")
        if host.get("service_pid"):
            service += " (pid %d)" % host["service_pid"]
        if host.get("frozen_until"):
            service += ", dom0 frozen for %.0f s more" % max(0.0, host["frozen_until"] - time.time())
        lines.append("%-10s %-36s %-5s %-5s %-6s %s" % (host["name_label"], host["uuid"], host["power"],
                                                        host["xapi"], host["role"], service))
    lines.append("")
    lines.append("%-12s %-11s %-10s %s" % ("VM", "DATABASE", "RESIDENT", "REALLY RUNNING ON"))
    for vm in status["vms"]:
        running = ",".join(_where(host, names) for host in vm.get("running_on") or []) or "-"
        paused = [_where(host, names) for host in vm.get("paused_on") or []]
        if paused:
            running += " (paused on %s)" % ",".join(paused)
        lines.append("%-12s %-11s %-10s %s" % (vm["name_label"], vm["power_state"],
                                               _where(vm.get("resident_on"), names), running))
    lines.append("")
    for name in ("gateway", "witness"):
        node = status.get(name)
        if node:
            lines.append("%s: %s %s%s" % (name, node["address"], node["power"],
                                          "" if node.get("link", "up") == "up" else " (link down)"))
    cuts = status.get("cuts") or []
    if cuts:
        lines.append("cut links: " + ", ".join("%s->%s" % (cut["from"], cut["to"]) for cut in cuts))
    violations = status.get("violations") or []
    if not violations:
        lines.append("violations: none")
    else:
        lines.append("violations: %d" % len(violations))
        for violation in violations:
            lines.append("  " + (violation if isinstance(violation, str) else json.dumps(violation, sort_keys=True)))
    return "\n".join(lines)


def cmd_status(args):
    status = _control(os.path.abspath(args.dir), "status")
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print(format_status(status))
    return 0


# --- down -----------------------------------------------------------------

def _wait_gone(pid, directory, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _is_our_daemon(pid, directory):
            return True
        time.sleep(0.05)
    return not _is_our_daemon(pid, directory)


def _stop_pid(pid, directory):
    """SIGTERM, then SIGKILL, to our daemon only (checked by its command line)."""
    for sig, wait in ((signal.SIGTERM, DOWN_DEADLINE), (signal.SIGKILL, 5.0)):
        if not _is_our_daemon(pid, directory):
            return True
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        if _wait_gone(pid, directory, wait):
            return True
    return False


def cmd_down(args):
    directory = os.path.abspath(args.dir)
    pid = _read_pid(directory)
    if not pid or not _is_our_daemon(pid, directory):
        for name in (POOL_FILE, PID_FILE):
            try:
                os.unlink(os.path.join(directory, name))
            except FileNotFoundError:
                pass
        print("no simulated pool running in %s" % directory)
        return 0
    try:
        _control(directory, "shutdown")
        stopped = _wait_gone(pid, directory, DOWN_DEADLINE)
    except (Failure, UsageError):
        stopped = False
    if not stopped and not _stop_pid(pid, directory):
        raise Failure("simulated pool (pid %d) in %s did not stop" % (pid, directory))
    for name in (POOL_FILE, PID_FILE):
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    print("simulated pool in %s stopped" % directory)
    return 0


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
