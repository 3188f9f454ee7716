"""`make demo`: the whole story of a 3-host simulated pool protected by ha-lizard.

Why: shows in about two minutes what the product does. A simulated pool
starts with a real `ha-lizard run` per host; then a VM crashes, a slave loses
power, and the master loses power. Each time ha-lizard detects it, fences
the host when one is involved (XVM, verified), and brings every VM back;
the demo prints a timeline of what happened when and ends with the
simulator's ground truth: no violation, every protected VM running exactly
once (no VM ever ran twice). Everything runs on loopback addresses; the pool
and the services are always torn down, even on Ctrl-C.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import XenAPI

from halizard.sim import control
from halizard.sim.addresses import BoundTransport
from halizard.sim.cli import format_status, read_pool_file
from halizard.sim.outer import outer_vm_uuid

COMMAND_TIMEOUT = 90.0
STEP_TIMEOUT = 90.0
HA_KEY = "XenCenter.CustomFields.ha-lizard-enabled"
CONFIG = {"MONITOR_DELAY": 2, "MONITOR_SCANRATE": 1, "XAPI_COUNT": 2, "XAPI_DELAY": 1, "XE_TIMEOUT": 3,
          "FENCE_METHOD": "XVM"}


class DemoError(Exception):
    """A step of the demo did not happen in time (one-line message)."""


def say(text=""):
    print(text, flush=True)


def heading(text):
    say()
    say("== %s ==" % text)


class Timeline:
    """Events with their time since the demo's pool came up."""

    def __init__(self):
        self.start = time.monotonic()
        self.events = []

    def mark(self, text):
        at = time.monotonic() - self.start
        self.events.append((at, text))
        say("  [%6.1fs] %s" % (at, text))

    def show(self):
        for at, text in self.events:
            say("  %6.1fs  %s" % (at, text))


def sim(directory, *args):
    """Run `ha-lizard sim ARGS --dir DIR` as a user would, echoing the command."""
    shown = "ha-lizard sim %s --dir %s" % (args[0], directory)
    if args[1:]:
        shown += " " + " ".join(args[1:])
    say("$ " + shown)
    argv = [sys.executable, "-m", "halizard.cli.ha_lizard", "sim", args[0], "--dir", directory] + list(args[1:])
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=COMMAND_TIMEOUT, check=False)
    if done.returncode != 0:
        raise DemoError("`%s` failed with exit %d: %s" % (shown, done.returncode, done.stdout.strip()[-300:]))
    return done.stdout


def status(document):
    return control.call(document["control_url"], "status", timeout=10.0)


def show_status(document):
    for line in format_status(status(document)).splitlines():
        say("  " + line)


def session_to(document, host):
    session = XenAPI.Session(host["xapi_url"], transport=BoundTransport(timeout=10.0))
    session.login_with_password("root", document["password"], "2.0", "ha-lizard-demo")
    return session


def master_session(document):
    """A session to whichever host is master now (the demo promotes a slave)."""
    for entry in status(document)["hosts"]:
        if entry["role"] == "master" and entry["power"] == "on":
            host = next(h for h in document["hosts"] if h["name_label"] == entry["name_label"])
            return session_to(document, host)
    raise DemoError("no master is powered on")


def configure(document, **extra):
    """Pool HA on, short demo timings, XVM fencing through the simulator's outer dom0, on every host;
    the pool's gateway as the heuristic address that breaks a tie; `extra`: more pool parameters."""
    from halizard.config import pool_store

    outer = document["outer_url"].split("//", 1)[-1].rstrip("/")
    values = dict(CONFIG, FENCE_IPADDRESS=outer, FENCE_PASSWD=document["outer_password"],
                  FENCE_HEURISTICS_IPS=document.get("gateway") or "", **extra)
    session = master_session(document)
    try:
        pool_store.apply_changes(session, pool_store.set_parameters(session, values), {HA_KEY: "true"})
    finally:
        session.xenapi.session.logout()
    for host in document["hosts"]:
        folder = os.path.join(host["root"], "etc", "ha-lizard", "fence", "XVM")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "XVM.hosts"), "w") as handle:
            for h in document["hosts"]:
                handle.write("%s:%s\n" % (h["uuid"], outer_vm_uuid(h["uuid"])))


def start_services(directory, document):
    """Each host's `ha-lizard --root <host root> run`, run by the simulator: a power-off kills it."""
    for host in document["hosts"]:
        sim(directory, "service", "start", host["name_label"])


def wait_for(what, predicate, timeout=STEP_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, XenAPI.Failure, control.ControlError, DemoError):
            pass
        time.sleep(0.2)
    raise DemoError("timed out after %gs waiting for %s" % (timeout, what))


def host_field(document, name):
    session = master_session(document)
    try:
        ref = session.xenapi.host.get_by_name_label(name)[0]
        return (session.xenapi.host.get_other_config(ref) or {}).get(HA_KEY, "")
    finally:
        session.xenapi.session.logout()


def all_stamped(document):
    """Every VM carries its home-pool stamp: the master's first VM round writes it, and a halted VM
    without it is never started (it might belong to another pool sharing the storage)."""
    session = master_session(document)
    try:
        records = session.xenapi.VM.get_all_records()
    finally:
        session.xenapi.session.logout()
    return all((r.get("other_config") or {}).get("home-pool") for r in records.values()
               if not r.get("is_control_domain") and not r.get("is_a_template") and not r.get("is_a_snapshot"))


def vms_on(document, name):
    return sorted(v["name_label"] for v in status(document)["vms"] if name in v["running_on"])


def running_once(document, names):
    vms = {v["name_label"]: v for v in status(document)["vms"]}
    return all(len(vms[n]["running_on"]) == 1 for n in names)


def master_name(document):
    """The powered-on master's name, or None while there is none."""
    return next((h["name_label"] for h in status(document)["hosts"] if h["role"] == "master" and h["power"] == "on"),
                None)


def run(directory, timeline):
    heading("1. A simulated pool: 3 hosts, 6 VMs, and a real ha-lizard service per host (run by the simulator:"
            " a power-off kills it, a power-on starts it again)")
    sim(directory, "up", "--hosts", "3", "--vms", "6", "--start-latency", "0.2", "--fuse", "2")
    document = read_pool_file(directory)
    configure(document)
    say("Pool HA on; XVM fencing through the simulator's outer dom0; MONITOR_DELAY=2, XAPI_COUNT=2.")
    start_services(directory, document)
    wait_for("every slave marked healthy",
             lambda: host_field(document, "host2") == "healthy" and host_field(document, "host3") == "healthy")
    wait_for("every VM stamped with its home pool", lambda: all_stamped(document))
    timeline.mark("services up; the master marks host2 and host3 healthy and stamps every VM's home pool")
    show_status(document)

    heading("2. A VM crashes")
    sim(directory, "fault", "crash-vm", "vm001")
    timeline.mark("vm001 crashed")
    wait_for("vm001 running again", lambda: running_once(document, ["vm001"]))
    timeline.mark("vm001 running again")

    heading("3. A slave loses power")
    victims = vms_on(document, "host3")
    sim(directory, "fault", "power-off", "host3")
    timeline.mark("host3 powered off (it ran %s; its service died with it)" % ", ".join(victims))
    wait_for("host3 marked failed", lambda: host_field(document, "host3") == "failed")
    timeline.mark("host3 detected as failed, fenced (XVM, verified) and released")
    wait_for("host3's VMs running elsewhere", lambda: running_once(document, victims))
    timeline.mark("%s running again on %s" % (", ".join(victims), ", ".join(
        sorted({h for v in status(document)["vms"] if v["name_label"] in victims for h in v["running_on"]}))))

    heading("4. host3 is repaired and powered on again")
    sim(directory, "fault", "power-on", "host3")
    timeline.mark("host3 powered on; the simulator starts its service again")
    wait_for("host3 healthy again", lambda: host_field(document, "host3") == "healthy")
    timeline.mark("host3 rejoined; the master marks it healthy and re-admits it to the membership (it runs "
                  "nothing twice)")

    heading("5. The master loses power")
    old = master_name(document)
    victims = vms_on(document, old)
    sim(directory, "fault", "power-off", old)
    timeline.mark("master %s powered off (it ran %s)" % (old, ", ".join(victims)))
    wait_for("a new master", lambda: master_name(document) not in (None, old))
    timeline.mark("a slave took over as master (the takeover slave fences %s first)" % old)
    wait_for("the old master's VMs running again", lambda: running_once(document, victims))
    timeline.mark("%s running again; %s is the master" % (", ".join(victims), master_name(document)))

    heading("6. Timeline")
    timeline.show()

    heading("7. Final check: the simulator's ground truth")
    show_status(document)
    final = status(document)
    twice = [v["name_label"] for v in final["vms"] if len(v["running_on"]) > 1]
    missing = [v["name_label"] for v in final["vms"] if not v["running_on"]]
    say()
    if final["violations"] or twice or missing:
        raise DemoError("violations %s, running twice %s, not running %s" % (final["violations"], twice, missing))
    say("=> No violation: no VM ever ran twice, and every protected VM runs exactly once.")
    heading("8. Tear down")
    sim(directory, "down")


def main():
    if os.geteuid() != 0:
        sys.stderr.write("demo: must run as root (simulated hosts listen on port 80 of 127.x.y.z addresses)\n")
        return 1
    directory = tempfile.mkdtemp(prefix="hd-", dir="/tmp")
    say("ha-lizard demo (pool directory %s)" % directory)
    timeline = Timeline()
    failed = True
    try:
        run(directory, timeline)
        failed = False
    except (DemoError, OSError, XenAPI.Failure, control.ControlError, subprocess.TimeoutExpired) as exc:
        sys.stderr.write("demo: %s\n" % " ".join(str(exc).split()))
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("demo: interrupted\n")
        return 130
    finally:
        subprocess.run([sys.executable, "-m", "halizard.cli.ha_lizard", "sim", "down", "--dir", directory],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=COMMAND_TIMEOUT, check=False)
        if failed:  # what each host's service decided is in its log: keep it for whoever looks into it
            sys.stderr.write("demo: pool directory kept: %s (each host's log: hosts/<name>/service.log)\n"
                             % directory)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    say()
    say("Demo complete.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
