"""`ha-lizard sim fault`, `service` and `status` on a running pool, through its control endpoint.

Why: each fault's targets are checked here first (a bad name is exit 2 and
changes nothing); the pool itself re-checks them under its lock.
"""
import json
import os
import time

from halizard.sim.cli_lifecycle import UsageError, _control, read_pool_file
from halizard.sim.services import default_env

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
