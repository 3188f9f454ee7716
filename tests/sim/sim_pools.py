"""Handles on simulated pools (CLI-started or in-process), shared by the sim tests, the scenario
harness and the benchmarks.

Why a module of its own: conftest.py needs pytest, and the benchmarks run from a venv without
the test extra (`make bench`); they reach these classes through tests/scenarios/harness/.
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

import XenAPI

from halizard.sim.addresses import BoundTransport
from halizard.sim.tls import CERT_FILE, KEY_FILE, pool_certificate

CLI_TIMEOUT = 90.0
_CERTIFICATE = {}


def seed_certificate(directory):
    """Put this process's pool certificate into `directory`, so the pool built there reuses it.

    Why: a pool makes its own (openssl, an RSA key: 0.1-0.2 CPU-s each) unless the pair is
    already there (halizard/sim/tls.py), and the suite builds hundreds of pools on 2 cores. The pair
    is made once per test process by that same code; no test client checks it (self-signed).
    tests/sim/test_cli_lifecycle.py proves that `sim up` makes a pool's own.
    """
    if "pair" not in _CERTIFICATE:
        folder = tempfile.mkdtemp(prefix="hs-cert-")
        atexit.register(shutil.rmtree, folder, True)
        _CERTIFICATE["pair"] = pool_certificate(folder)
    os.makedirs(str(directory), exist_ok=True)
    if os.path.exists(os.path.join(str(directory), CERT_FILE)):
        return directory  # a pool built here before: it reuses its own, as the product does
    for source, name in zip(_CERTIFICATE["pair"], (CERT_FILE, KEY_FILE)):
        target = os.path.join(str(directory), name)
        with open(source, "rb") as src, open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
                                             "wb") as dst:
            shutil.copyfileobj(src, dst)
    return directory


def assemble(directory, hosts, vms, **options):
    """halizard.sim.daemon.assemble in a directory seeded with the certificate (seed_certificate)."""
    from halizard.sim import daemon

    return daemon.assemble(seed_certificate(directory), hosts, vms, **options)


def ha_lizard_command():
    """The installed `ha-lizard` console script next to this interpreter (else the module)."""
    script = os.path.join(os.path.dirname(sys.executable), "ha-lizard")
    if os.path.exists(script):
        return [script]
    return [sys.executable, "-m", "halizard.cli.ha_lizard"]


def run_sim(*args, **kwargs):
    """Run `ha-lizard sim ARGS...`; returns the CompletedProcess (text, captured)."""
    timeout = kwargs.pop("timeout", CLI_TIMEOUT)
    return subprocess.run(ha_lizard_command() + ["sim"] + [str(arg) for arg in args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=timeout, check=False, **kwargs)


class _PoolHandleBase(object):
    """What both kinds of pool offer: names, addresses, XenAPI sessions."""

    json = None

    @property
    def password(self):
        return self.json["password"]

    @property
    def hosts(self):
        return self.json["hosts"]

    def host(self, name_label):
        for host in self.json["hosts"]:
            if host["name_label"] == name_label:
                return host
        raise KeyError(name_label)

    def master_name(self):
        for host in self.status()["hosts"]:
            if host["role"] == "master":
                return host["name_label"]
        raise AssertionError("no master in status")

    def xenapi_session(self, host_name=None, login=True, source=None, timeout=10.0):
        """A XenAPI session to `host_name`'s xapi (default: the master), logged in as root.

        `source`: a host name or address to send from (partitions apply);
        login=False returns the unauthenticated client (e.g. to see HOST_IS_SLAVE).
        """
        target = self.host(host_name or self.master_name())
        if source and not source[0].isdigit():
            source = self.host(source)["address"]
        session = XenAPI.Session(target["xapi_url"], transport=BoundTransport(timeout=timeout, source=source))
        if login:
            session.login_with_password("root", self.password, "2.0", "ha-lizard-tests")
        return session

    def outer_session(self, timeout=10.0):
        """A logged-in XenAPI session to the outer dom0 (XVM fencing target)."""
        session = XenAPI.Session(self.json["outer_url"], transport=BoundTransport(timeout=timeout, tls=True))
        session.login_with_password("root", self.json["outer_password"], "2.0", "ha-lizard-tests")
        return session

    def vm_status(self, name_label):
        for vm in self.status()["vms"]:
            if vm["name_label"] == name_label:
                return vm
        raise KeyError(name_label)

    def host_status(self, name_label):
        for host in self.status()["hosts"]:
            if host["name_label"] == name_label:
                return host
        raise KeyError(name_label)


class CliPool(_PoolHandleBase):
    """A pool run by `ha-lizard sim up` in its own process.

    `own_certificate`: let `sim up` make the pool's certificate (else seed_certificate's copy).
    """

    def __init__(self, directory, own_certificate=False):
        self.dir = str(directory)
        self.json = None
        self.up_result = None
        self.own_certificate = own_certificate

    def run(self, *args, **kwargs):
        """`ha-lizard sim ARGS... --dir DIR`-style call; ARGS must include the subcommand first."""
        return run_sim(args[0], "--dir", self.dir, *args[1:], **kwargs)

    def up(self, hosts, vms, start_latency, fuse, extra):
        if not self.own_certificate and not os.path.exists(os.path.join(self.dir, CERT_FILE)):
            seed_certificate(self.dir)
        result = self.run("up", "--hosts", hosts, "--vms", vms, "--start-latency", start_latency,
                          "--fuse", fuse, *extra)
        self.up_result = result
        if result.returncode != 0:
            raise AssertionError("sim up failed (%d): %s %s" % (result.returncode, result.stdout, result.stderr))
        with open(os.path.join(self.dir, "pool.json"), encoding="utf-8") as handle:
            self.json = json.load(handle)
        return self

    def fault(self, action, *targets):
        """Inject a fault through the CLI; raises AssertionError when it is refused."""
        result = self.run("fault", action, *targets)
        if result.returncode != 0:
            raise AssertionError("sim fault %s %s failed (%d): %s" % (action, targets, result.returncode,
                                                                       result.stderr.strip()))
        return result

    def status(self):
        """The `sim status --json` document, asked of the control endpoint as that command does.

        Not through the CLI: tests poll it many times a second, and a Python process per poll cost
        most of the scenarios' CPU (the CLI's own output is tested in tests/sim/test_cli_*.py).
        """
        from halizard.sim import control

        try:
            return control.call(self.json["control_url"], "status", timeout=30.0)
        except control.ControlError as exc:
            raise AssertionError("sim status failed: %s" % exc) from None

    def down(self):
        return self.run("down")


def cli_pool_for_module(directory, hosts, vms, extra=()):
    """The body of a module-scoped fixture: a CliPool up in `directory`, yielded, then brought down.

    Why: `sim up` and `down` cost about a CPU-second; tests that change nothing (refused input,
    each checking the pool is as before) or each take their own hosts can share one pool.
    """
    handle = CliPool(directory).up(hosts, vms, 0.05, 0.5, list(extra))
    try:
        yield handle
    finally:
        handle.down()


class InprocPool(_PoolHandleBase):
    """A pool assembled in this process: `.pool` is the SimPool itself."""

    def __init__(self, running):
        self.running = running
        self.pool = running.pool
        self.dir = running.directory
        self.json = running.document()

    def fault(self, action, *targets):
        self.pool.fault(action, list(targets))

    def status(self):
        return self.pool.status()

    def close(self):
        self.running.close()
