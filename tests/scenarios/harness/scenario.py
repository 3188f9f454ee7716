"""One simulated pool plus its supervisors, and the pytest fixture that makes and tears them down."""
import json
import os
import shutil
import subprocess
import tempfile
import time

from . import base
from .base import DEFAULT_CONFIG, HERE, POOLS, REPO, CliPool, stays, wait_until
from .supervisor import Supervisor


# Lines every healthy service logs all the time; a failure message leaves them out.
ROUTINE = ("pool view refreshed", "VM events watched", "still running after check", " DEBUG ")
LOG_TAIL = 6000


class Scenario:
    """One simulated pool plus its supervisors."""

    def __init__(self, directory, hosts=3, vms=4, start_latency=0.1, fuse=1.0, config=None,
                 host_overrides=None, ha_enabled=True, jobs=None, inproc=False, up_args=()):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        if inproc:  # the SimPool in this process (`self.pool.pool`): benchmarks can time its calls
            from halizard.sim.daemon import write_pool_file

            path = os.path.join(self.dir, "p")
            self.pool = POOLS.InprocPool(POOLS.assemble(path, hosts, vms, start_latency=start_latency, fuse=fuse))
            write_pool_file(path, self.pool.json)
        else:
            self.pool = CliPool(os.path.join(self.dir, "p"))
            self.pool.up(hosts, vms, start_latency, fuse, list(up_args))  # e.g. ["--witness"]
        self.supervisors = {}
        self.unprotected = set()
        self.jobs = jobs
        merged = dict(DEFAULT_CONFIG)
        merged.update(config or {})
        self.set_config(**merged)
        if ha_enabled:
            self.set_pool_ha("true")
        for name, values in (host_overrides or {}).items():
            self.write_override(name, **values)

    # --- the pool, through XAPI -------------------------------------------------------
    def session(self, host=None, timeout=10.0):
        """A logged-in XenAPI session to the master (or `host`); log it out yourself or use `xapi`."""
        return self.pool.xenapi_session(host, timeout=timeout)

    def xapi(self, fn, host=None):
        """Run fn(session.xenapi) on a fresh session to the master and log out."""
        session = self.session(host)
        try:
            return fn(session.xenapi)
        finally:
            try:
                session.xenapi.session.logout()
            except Exception:  # noqa: BLE001 - best effort
                pass

    def set_config(self, **values):
        """Store pool parameters (pool other_config HA_<NAME>) in the old literal format."""
        from halizard.config import pool_store

        session = self.session()
        try:
            pool_store.set_parameters(session, values)
        finally:
            session.xenapi.session.logout()

    def set_pool_ha(self, value):
        """The pool HA switch (XenCenter field on the pool): "true", "false" or anything."""
        self._set_other_config("pool", None, "XenCenter.CustomFields.ha-lizard-enabled", value)

    def set_vm_field(self, vm, key, value):
        """Set (value str) or remove (value None) a key of VM `vm`'s other_config."""
        self._set_other_config("VM", vm, key, value)

    def set_vm_ha(self, vm, value):
        """The VM's XenCenter HA field (value None removes it)."""
        self.set_vm_field(vm, "XenCenter.CustomFields.ha-lizard-enabled", value)

    def _set_other_config(self, cls, vm, key, value):
        def apply(x):
            api = getattr(x, cls)
            ref = api.get_all()[0] if vm is None else self.vm_ref(x, vm)
            if key in api.get_other_config(ref):
                api.remove_from_other_config(ref, key)
            if value is not None:
                api.add_to_other_config(ref, key, value)
        self.xapi(apply)

    @staticmethod
    def vm_ref(x, vm):
        refs = x.VM.get_by_name_label(vm)
        if len(refs) != 1:
            raise AssertionError("expected one VM named %s, found %d" % (vm, len(refs)))
        return refs[0]

    def vm_record(self, vm):
        return self.xapi(lambda x: x.VM.get_record(self.vm_ref(x, vm)))

    def unprotect(self, vm):
        """Tell the simulator (and the final check) that `vm` is not expected to run."""
        self.set_vm_field(vm, "sim-protected", "false")
        self.unprotected.add(vm)

    def operator_shutdown(self, vm):
        self.xapi(lambda x: x.VM.clean_shutdown(self.vm_ref(x, vm)))

    def operator_start(self, vm):
        self.xapi(lambda x: x.VM.start(self.vm_ref(x, vm), False, False))

    # --- host roots, override files, supervisors ---------------------------------------
    def host_root(self, name):
        return self.pool.host(name)["root"]

    def write_override(self, name, **values):
        """The host override file (etc/ha-lizard/ha-lizard.conf) of host `name`."""
        path = os.path.join(self.host_root(name), "etc", "ha-lizard", "ha-lizard.conf")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("# scenario override\n")
            for key, value in values.items():
                handle.write("%s=%s\n" % (key, value))

    def env_for(self, name):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([HERE, REPO])
        env.pop("NOTIFY_SOCKET", None)
        env.pop("HALIZARD_ROOT", None)
        env.pop("HALIZARD_JOBS", None)
        if self.jobs is not None:
            jobs_file = os.path.join(self.host_root(name), "scenario-jobs.json")
            with open(jobs_file, "w", encoding="utf-8") as handle:
                json.dump(self.jobs, handle)
            env["HALIZARD_JOBS"] = jobs_file
        return env

    def start_supervisors(self, names=None, wait=True):
        """Start `ha-lizard run` on each named host (default: every host); returns them."""
        names = names or [h["name_label"] for h in self.pool.hosts]
        started = []
        for name in names:
            sup = Supervisor(name, self.host_root(name), self.env_for(name), self.pool.json)
            self.supervisors[name] = sup
            started.append(sup.start(wait=False))
        if wait:
            for sup in started:
                wait_until(sup.answering, 30, interval=0.1, message="the supervisor of %s" % sup.name)
        return started

    def supervisor(self, name):
        return self.supervisors[name]

    def wait_watching(self, name, timeout=60):
        """Until the vm_events job of host `name` follows the event stream (its token file is fresh)."""
        began = time.time()
        return self.wait_until(lambda: (self.supervisor(name).state("vm-events-token") or {}).get("at", 0) > began,
                               timeout, interval=0.2, message="the VM event watcher of %s" % name)

    def logs(self):
        """Every supervisor's log without its routine lines, and the pool's ground truth, for assertion
        messages: CI keeps only the failure message, so it must tell what each host decided."""
        def telling(text):
            lines = [line for line in text.splitlines() if not any(r in line for r in ROUTINE)]
            return "\n".join(lines)[-LOG_TAIL:]
        return "\n".join(["==== %s\n%s" % (n, telling(s.log())) for n, s in sorted(self.supervisors.items())]
                         + ["==== pool\n%s" % self._truth()])

    def _truth(self):
        """Each host's power and service, each VM's power state and where it runs (sim status)."""
        try:
            status = self.status()
        except Exception as exc:  # noqa: BLE001 - a failure message must not fail in its turn
            return "status unreadable: %r" % exc
        hosts = ["%s power=%s xapi=%s role=%s service=%s" % tuple(h.get(k) for k in (
                 "name_label", "power", "xapi", "role", "service")) for h in status.get("hosts", [])]
        vms = ["%s %s resident_on=%s running_on=%s" % (v.get("name_label"), v.get("power_state"), v.get("resident_on"),
               ",".join(v.get("running_on") or []) or "-") for v in status.get("vms", [])]
        return "\n".join(hosts + vms)

    def ha_cfg(self, host, *args, timeout=60):
        """`ha-cfg --root <host root> ARGS...` (CompletedProcess, text)."""
        env = self.env_for(host)
        return subprocess.run(base.ha_cfg_command() + ["--root", self.host_root(host)] + [str(a) for a in args],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout, check=False)

    # --- observation ---------------------------------------------------------------------
    def status(self):
        return self.pool.status()

    def vm(self, name):
        for vm in self.status()["vms"]:
            if vm["name_label"] == name:
                return vm
        raise KeyError(name)

    def wait_vm_running(self, name, timeout, where=None):
        """Until `name` runs (exactly once; on host `where` when given); returns its status entry."""
        def running():
            vm = self.vm(name)
            if vm["power_state"] == "Running" and len(vm["running_on"]) == 1:
                if where is None or vm["running_on"] == [where]:
                    return vm
            return None
        return self.wait_until(running, timeout, interval=0.1, message="%s running" % name)

    def wait_vm_halted(self, name, timeout):
        return self.wait_until(lambda: self.vm(name)["power_state"] == "Halted" and self.vm(name), timeout,
                               interval=0.1, message="%s halted" % name)

    def wait_until(self, predicate, timeout, interval=0.05, message="condition"):
        """wait_until with every supervisor's log tail in the failure message."""
        try:
            return wait_until(predicate, timeout, interval, message)
        except AssertionError as exc:
            raise AssertionError("%s\n%s" % (exc, self.logs())) from None

    def stays(self, predicate, seconds, interval=0.2, message="condition"):
        """Assert `predicate` holds for the whole `seconds` (a negative check with a deadline)."""
        stays(predicate, seconds, interval, message)

    def check_final(self, expect_halted=()):
        """No violation, every protected VM runs exactly once, `expect_halted` VMs are halted."""
        status = self.status()
        assert status["violations"] == [], "violations: %s\n%s" % (status["violations"], self.logs())
        halted = set(expect_halted)
        for vm in status["vms"]:
            name = vm["name_label"]
            if name in halted:
                assert vm["running_on"] == [], "%s should be halted: %s" % (name, vm)
            elif name not in self.unprotected:
                assert len(vm["running_on"]) == 1, "%s should run exactly once: %s\n%s" % (
                    name, vm, self.logs())
        return status

    def close(self):
        """The pool's teardown stops every registered service at once, then the pool."""
        if hasattr(self.pool, "down"):
            self.pool.down()
        else:
            self.pool.close()


KEEP_ENV = "HALIZARD_KEEP_SCENARIOS"


def scenario_fixture(name="scenario"):
    """A pytest fixture `scenario(**kw) -> Scenario`; everything is torn down after the test.

    pytest is imported here, not at the top: the benchmarks import this module from a venv
    without the test extra (`make bench`).
    """
    import pytest

    @pytest.fixture(name=name)
    def _fixture():
        made = []
        # short paths: the supervisor's control socket path must fit AF_UNIX's ~107 bytes
        base = tempfile.mkdtemp(prefix="hs-", dir="/tmp")

        def make(**kw):
            sc = Scenario(os.path.join(base, str(len(made))), **kw)
            made.append(sc)
            return sc

        yield make
        for sc in made:
            sc.close()
        if os.environ.get(KEEP_ENV):  # every host's service.log and state stay for a post-mortem
            print("scenario kept: %s" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)

    return _fixture
