"""`make demo`: a simulated 3-host pool, a host failure, and the gap it opens.

Why: shows in a minute what the simulator is for. When a host loses power,
XAPI's database still says its VMs run there, while in truth their domains
are gone: exactly the gap an HA manager must close (later issues make the
pool recover by itself). Everything runs on loopback addresses; the pool is
always torn down, even on Ctrl-C.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import XenAPI

from halizard.sim.addresses import BoundTransport
from halizard.sim.cli import format_status, read_pool_file
from halizard.sim import control

COMMAND_TIMEOUT = 90.0


def say(text=""):
    print(text, flush=True)


def heading(text):
    say()
    say("== %s ==" % text)


def sim(directory, *args):
    """Run `ha-lizard sim ARGS --dir DIR` as a user would, echoing the command."""
    shown = "ha-lizard sim %s --dir %s" % (" ".join(args[:1]), directory)
    if args[1:]:
        shown += " " + " ".join(args[1:])
    say("$ " + shown)
    argv = [sys.executable, "-m", "halizard.cli.ha_lizard", "sim", args[0], "--dir", directory] + list(args[1:])
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=COMMAND_TIMEOUT, check=False)
    for line in done.stdout.rstrip().splitlines():
        say("  " + line)
    if done.returncode != 0:
        raise RuntimeError("`%s` failed with exit %d" % (shown, done.returncode))
    return done.stdout


def show_status(document):
    status = control.call(document["control_url"], "status", timeout=10.0)
    for line in format_status(status).splitlines():
        say("  " + line)
    return status


def master_view(document, vm_names):
    """What the master's XAPI database says about some VMs (through the real XenAPI client)."""
    master = document["hosts"][0]
    session = XenAPI.Session(master["xapi_url"], transport=BoundTransport(timeout=10.0))
    session.login_with_password("root", document["password"], "2.0", "ha-lizard-demo")
    try:
        views = []
        for name in vm_names:
            vm = session.xenapi.VM.get_by_name_label(name)[0]
            host = session.xenapi.VM.get_resident_on(vm)
            where = session.xenapi.host.get_name_label(host) if host != "OpaqueRef:NULL" else "-"
            views.append((name, session.xenapi.VM.get_power_state(vm), where))
        return views
    finally:
        session.xenapi.session.logout()


def xapi_answers(host, password):
    session = XenAPI.Session(host["xapi_url"], transport=BoundTransport(timeout=2.0))
    try:
        session.login_with_password("root", password, "2.0", "ha-lizard-demo")
    except XenAPI.Failure:
        return True
    except OSError:
        return False
    return True


def wait_until(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def run(directory):
    heading("1. Start a simulated pool: 3 hosts, 6 VMs, each host on its own loopback address")
    sim(directory, "up", "--hosts", "3", "--vms", "6", "--start-latency", "0.2", "--fuse", "2")
    document = read_pool_file(directory)
    status = show_status(document)
    victims = [vm["name_label"] for vm in status["vms"] if vm["running_on"] == ["host2"]]
    host2 = document["hosts"][1]
    say()
    say("The master (%s) answers XAPI; the slaves answer HOST_IS_SLAVE, as real hosts do." % document["hosts"][0]["address"])
    say("VMs on host2: %s" % ", ".join(victims))

    heading("2. Fault: host2 loses power")
    sim(directory, "fault", "power-off", "host2")
    say()
    say("host2's xapi answers: %s" % ("yes" if xapi_answers(host2, document["password"]) else "no (connection fails)"))
    say("What the master's database believes (via the XenAPI client):")
    for name, power, where in master_view(document, victims):
        say("  %-8s %-8s on %s" % (name, power, where))
    say("What really runs (ground truth):")
    status = show_status(document)
    gone = [vm["name_label"] for vm in status["vms"] if vm["name_label"] in victims and not vm["running_on"]]
    say()
    say("=> The database still says Running on host2, but the domains of %s are gone." % ", ".join(gone))
    say("   Nothing restarts them yet: that is the HA manager's job (ha-lizard, next issues).")

    heading("3. Power host2 back on")
    sim(directory, "fault", "power-on", "host2")
    wait_until(lambda: xapi_answers(host2, document["password"]), 10.0)
    say("host2's xapi answers again; on boot it tells the master what really runs there:")
    for name, power, where in master_view(document, victims):
        say("  %-8s %-8s on %s" % (name, power, where))

    heading("4. Tear down")
    sim(directory, "down")


def main():
    if os.geteuid() != 0:
        sys.stderr.write("demo: must run as root (simulated hosts listen on port 80 of 127.x.y.z addresses)\n")
        return 1
    directory = tempfile.mkdtemp(prefix="ha-lizard-demo-")
    say("ha-lizard simulator demo (pool directory %s)" % directory)
    try:
        run(directory)
    except (RuntimeError, OSError, XenAPI.Failure, control.ControlError, subprocess.TimeoutExpired) as exc:
        sys.stderr.write("demo: %s\n" % " ".join(str(exc).split()))
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("demo: interrupted\n")
        return 130
    finally:
        subprocess.run([sys.executable, "-m", "halizard.cli.ha_lizard", "sim", "down", "--dir", directory],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=COMMAND_TIMEOUT, check=False)
        shutil.rmtree(directory, ignore_errors=True)
    say()
    say("Demo complete.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
