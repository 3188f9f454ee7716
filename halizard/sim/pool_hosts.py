"""SimPool's observation and hosts: status and pool.json, the simulated platform, host services.

Why: what tests and the simulated platform read and do on a host (xl list,
xl destroy, reboot, a toolstack restart, SMART, its ha-lizard service), under
the pool's lock like every other change.
"""
import os
import time

from halizard.sim import services as services_mod
from halizard.sim.db import NULL_REF
from halizard.sim.pool_errors import SimUsageError
from halizard.sim.pool_roles import ANSWER_GRACE


class HostsMixin(object):
    """Part of SimPool (its state lives there): status, describe, platform calls and services."""

    # ---------------------------------------------------------- observation
    def db_of_status(self):
        """The database status() reports: the newest master that is powered on (else the newest)."""
        masters = sorted(self.dbs, key=lambda u: self.epoch.get(u, 0), reverse=True)
        for host_uuid in masters:
            if self.world.hosts[host_uuid].power == "on":
                return self.dbs[host_uuid]
        return self.dbs[masters[0]] if masters else None

    def status(self):
        """The `ha-lizard sim status --json` document, violations included."""
        with self._lock:
            self._tick()
            db = self.db_of_status()
            names_by_ref = {ref: rec["name_label"] for ref, rec in db.items("host")}
            for host_uuid, ref in self.host_refs.items():
                names_by_ref.setdefault(ref, self.host_specs[host_uuid].name_label)
            hosts = []
            for host_uuid in self.host_uuids:
                truth = self.world.hosts[host_uuid]
                service = self.services.state(host_uuid)
                frozen_until = None
                if self.world.frozen(host_uuid):  # as wall-clock time, for people and other processes
                    frozen_until = round(time.time() + truth.frozen_until - self.clock(), 3)
                hosts.append({"name_label": truth.name_label, "uuid": host_uuid, "power": truth.power,
                              "xapi": self.world.xapi_state(host_uuid), "role": self.role[host_uuid],
                              "frozen_until": frozen_until, "service": service["service"],
                              "service_pid": service["pid"]})
            vms = []
            for rec in db.tables["VM"].values():
                if rec["is_a_template"] or rec["is_control_domain"] or rec["is_a_snapshot"]:
                    continue
                resident = rec["resident_on"]
                vms.append({"name_label": rec["name_label"], "uuid": rec["uuid"],
                            "power_state": rec["power_state"],
                            "resident_on": names_by_ref.get(resident) if resident != NULL_REF else None,
                            "running_on": sorted(self.world.hosts[h].name_label
                                                 for h in self.world.running_on(rec["uuid"])),
                            "paused_on": sorted(self.world.hosts[h].name_label
                                                for h in self.world.paused_on(rec["uuid"]))})
            vms.sort(key=lambda v: v["name_label"])
            document = {"hosts": hosts, "vms": vms, "violations": list(self.world.violations),
                        "cuts": self.world.links.cut_list(self._node_name), "calls": self.calls(),
                        "clear_password_logins": list(self.clear_password_logins)}
            for name, node in (("gateway", self.world.gateway), ("witness", self.world.witness)):
                if node is not None:
                    document[name] = {"address": node.address, "power": node.power,
                                      "link": "up" if node.link_up else "down"}
            return document

    def describe(self):
        """The hosts and vms parts of pool.json."""
        with self._lock:
            hosts = [{"name_label": self.host_specs[u].name_label, "uuid": u,
                      "address": self.host_specs[u].address, "root": self.host_specs[u].root}
                     for u in self.host_uuids]
            vms = [{"name_label": name, "uuid": vm_uuid} for name, vm_uuid in self.vm_by_name.items()]
            gateway = self.world.gateway
            return {"hosts": hosts, "vms": vms, "gateway": gateway.address if gateway is not None else None}

    # ------------------------------------------------- simulated platform
    def local_domains(self, host_uuid):
        """VM uuids with a domain on the host, executing or paused (dom0 excluded), as `xl list`."""
        with self._lock:
            self._known_host(host_uuid)
            return self.world.local_domains(host_uuid)

    def destroy_domain(self, host_uuid, vm_uuid):
        """Kill one local domain (xl destroy); the host's xapi then reports it halted."""
        with self._lock:
            self._known_host(host_uuid)
            if self.world.stop_domain(vm_uuid, host_uuid, by_fault=True):
                self.dirty.setdefault(host_uuid, False)
            self._tick()
        self._notify()

    def reboot_host(self, host_uuid):
        """The host reboots itself (reboot -f): its service is killed and started again.

        A request that arrives once the host is off (sent just before the power loss) is refused:
        it must never power the host on."""
        with self._lock:
            self._known_host(host_uuid)
            if self.world.hosts[host_uuid].power != "on":
                raise SimUsageError("host %s is powered off: nothing runs there to reboot it"
                                    % self.world.hosts[host_uuid].name_label)
            self._power_off(host_uuid)
            self._sync_check()
            self._power_on(host_uuid)
            self._tick()
        self._notify()

    def restart_toolstack(self, host_uuid):
        """xapi restarts: down for spec.toolstack_restart seconds, local sessions gone."""
        with self._lock:
            self._known_host(host_uuid)
            truth = self.world.hosts[host_uuid]
            if truth.power != "on":
                return
            truth.hung = False
            now = self.clock()
            truth.restart_from = now + min(ANSWER_GRACE, self.spec.toolstack_restart / 2.0)
            truth.restart_until = now + self.spec.toolstack_restart
            self._drop_local_sessions(host_uuid)
            self.dirty.setdefault(host_uuid, False)
            self._sync_check()
        self._notify()

    def disk_health(self, host_uuid):
        """What a SMART check on the host would say: {"healthy": bool, "detail": str}."""
        with self._lock:
            self._known_host(host_uuid)
            if self.world.hosts[host_uuid].disk_ok:
                return {"healthy": True, "detail": "SMART overall-health self-assessment test result: PASSED"}
            return {"healthy": False, "detail": "SMART overall-health self-assessment test result: FAILED"}

    # ------------------------------------------------- host services
    def register_service(self, name, argv=None, env=None, cwd=None, output=None):
        """Own host `name`'s service: started now when the host is on, killed at power-off, started at power-on.

        Defaults: `ha-lizard --root ROOT run --log-file ROOT/service.log`, this process's environment,
        the host root as working directory, stdout and stderr appended to ROOT/service.stderr.
        """
        with self._lock:
            host_uuid = self._host_uuid(name)
            root = self.host_specs[host_uuid].root
            if argv is not None and not isinstance(argv, list):
                raise SimUsageError("a service command is a list of strings")
            if not argv and not root:
                raise SimUsageError("host %s has no root: name the service's command" % name)
            argv = list(argv or services_mod.default_command(root))
            env = services_mod.default_env() if env is None else env
            cwd = cwd or root or os.getcwd()
            output = output or os.path.join(root or cwd, "service.stderr")
            try:
                service = services_mod.HostService(self.host_specs[host_uuid].name_label, argv, env, cwd, output)
                return self.services.register(host_uuid, service, self.world.hosts[host_uuid].power == "on",
                                              self.world.frozen(host_uuid))
            except ValueError as exc:
                raise SimUsageError(str(exc)) from None
            except OSError as exc:
                self.services.unregister(host_uuid)
                raise SimUsageError("cannot start the service of %s: %s" % (name, exc.strerror or exc)) from None

    def unregister_service(self, name, grace=services_mod.STOP_GRACE):
        """Stop host `name`'s service as an administrator would (SIGTERM, its tree killed after `grace` s)."""
        with self._lock:
            service = self.services.unregister(self._host_uuid(name))
        if service is None:
            raise SimUsageError("host %s has no registered service" % name)
        services_mod.terminate([service], grace)
        return True

    def service_state(self, name):
        """{"service": running|frozen|stopped|exited|none, "pid", "exit"} of host `name`."""
        with self._lock:
            return self.services.state(self._host_uuid(name))

    def close(self):
        """Stop every registered service (the pool is going away) and every pending thaw."""
        with self._lock:
            for timer in self._thaws.values():
                timer.cancel()
            self._thaws.clear()
            services = self.services.unregister_all()
        services_mod.terminate(services)

    def _known_host(self, host_uuid):
        if host_uuid not in self.host_specs:
            raise SimUsageError("unknown host uuid %r" % (host_uuid,))

