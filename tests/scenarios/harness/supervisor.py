"""One simulated host's supervisor (`ha-lizard run`), as the scenarios drive and read it."""
import json
import os

from . import base
from .base import wait_until


class Supervisor:
    """One simulated host's `ha-lizard --root ROOT run`, registered with the simulator, which runs it.

    The simulator owns the process: power-off kills its whole tree, power-on and reboot start it
    again, freeze stops it (SIGSTOP) until the dom0 resumes; the pool's teardown stops it.
    """

    def __init__(self, name, root, env, pool_json):
        self.name = name
        self.root = root
        self.env = env
        self.log_path = os.path.join(root, "service.log")
        self._control_url = pool_json["control_url"]
        self._token = pool_json["control_token"]

    def start(self, wait=True, timeout=30):
        from halizard.sim import control

        command = base.ha_lizard_command() + ["--root", self.root, "run", "--log-file", self.log_path]
        control.call(self._control_url, "service_start", self._token, self.name, command, self.env, self.root,
                     os.path.join(self.root, "service.stderr"), timeout=30.0)
        if wait:
            wait_until(self.answering, timeout, interval=0.1, message="the supervisor of %s" % self.name)
        return self

    def service(self):
        """The simulator's view: {"service": running|frozen|stopped|exited|none, "pid", "exit"}."""
        from halizard.sim import control

        return control.call(self._control_url, "service_state", self.name, timeout=10.0)

    def answering(self):
        from halizard.supervisor.control import ServiceNotRunning, query

        state = self.service()
        if state["service"] == "exited":
            raise RuntimeError("supervisor of %s exited with %s: %s" % (self.name, state["exit"], self.log()[-2000:]))
        if state["service"] != "running":
            return False
        try:
            return query(self.root, "status", timeout=2.0) is not None
        except ServiceNotRunning:
            return False

    def jobs(self):
        """name -> job record, over the control socket."""
        from halizard.supervisor.control import query

        return {job["name"]: job for job in query(self.root, "jobs", timeout=5.0)["jobs"]}

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return ""

    def state(self, name, default=None):
        """A state file of this host (var/lib/ha-lizard/NAME.json), or `default`."""
        path = os.path.join(self.root, "var", "lib", "ha-lizard", name + ".json")
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return default

    def stop(self, timeout=25):
        """Stop the service as an administrator would (SIGTERM, its tree killed after `timeout` s)."""
        from halizard.sim import control

        control.call(self._control_url, "service_stop", self._token, self.name, float(timeout),
                     timeout=timeout + 15.0)
