"""SimPool's faults: what `sim fault` injects (power, xapi, links, partitions, VMs, freezes) and lost VMs.

Why: the ground truth changes here and only here; XAPI's reaction to it
(resyncs, transitions) is pool_roles', run by the next tick.
"""
import math
import threading

from halizard.sim.api.common import RUNNING_STATES, add_markers
from halizard.sim.links import GATEWAY, WITNESS
from halizard.sim.pool_errors import SimUsageError

FAULT_ACTIONS = ("power-off", "power-on", "reboot", "hang-xapi", "unhang-xapi", "link-down", "link-up",
                 "crash-vm", "partition", "heal", "disk-fail", "disk-ok", "pause-vm", "unpause-vm", "leave-paused",
                 "freeze", "cut", "cut-oneway")
GATEWAY_ACTIONS = ("power-off", "power-on", "reboot", "link-down", "link-up")  # the gateway (and witness) run no xapi
PROTECTED_KEY = "sim-protected"
MAX_FREEZE = 24 * 3600.0  # seconds; a longer freeze is a typo
# fault action -> the FaultsMixin method (action, targets) that applies it; the rest: _fault_nodes
_FAULT_HANDLERS = {"heal": "_fault_heal", "partition": "_partition", "cut": "_cut", "cut-oneway": "_cut",
                   "crash-vm": "_fault_vms", "pause-vm": "_fault_vms", "unpause-vm": "_fault_vms",
                   "freeze": "_fault_freeze", "leave-paused": "_fault_leave_paused"}


class FaultsMixin(object):
    """Part of SimPool (its state lives there): fault injection and the lost-VM check."""

    # -------------------------------------------------------------- faults
    def fault(self, action, targets=()):
        """Inject one fault. Raises SimUsageError for unknown actions or names."""
        targets = list(targets)
        with self._lock:
            self._tick()
            if action not in FAULT_ACTIONS:
                raise SimUsageError("unknown fault %r (one of: %s)" % (action, ", ".join(FAULT_ACTIONS)))
            getattr(self, _FAULT_HANDLERS.get(action, "_fault_nodes"))(action, targets)
            self._tick()
            self._sync_check()
        self._notify()

    def _fault_heal(self, _action, targets):
        if targets:
            raise SimUsageError("heal takes no targets")
        self.world.heal()
        for host_uuid in self.host_uuids:
            self.dirty.setdefault(host_uuid, False)

    def _fault_vms(self, action, targets):
        """crash-vm, pause-vm, unpause-vm VM...: every name is checked before any VM changes."""
        if not targets:
            raise SimUsageError("%s needs at least one VM name" % action)
        for vm_uuid in [self._vm_uuid(name) for name in targets]:
            if action == "crash-vm":
                self._crash_vm(vm_uuid)
            else:
                self._set_paused(vm_uuid, action == "pause-vm")

    def _fault_freeze(self, _action, targets):
        if len(targets) != 2:
            raise SimUsageError("freeze needs a host name and a number of seconds")
        self._freeze(self._host_uuid(targets[0]), _freeze_seconds(targets[1]))

    def _fault_leave_paused(self, _action, targets):
        if len(targets) != 2:
            raise SimUsageError("leave-paused needs a VM name and a host name")
        self._leave_paused(self._vm_uuid(targets[0]), self._host_uuid(targets[1]))

    def _fault_nodes(self, action, targets):
        """Power, xapi, link and disk faults of hosts, the gateway or the witness (names checked first)."""
        if not targets:
            raise SimUsageError("%s needs at least one host name" % action)
        nodes = [self._node_id(name) for name in targets]
        for node in nodes:
            if node in (GATEWAY, WITNESS) and action not in GATEWAY_ACTIONS:
                raise SimUsageError("%s does not apply to the %s (only %s)" % (
                    action, node, ", ".join(GATEWAY_ACTIONS)))
        for node in nodes:
            if node in (GATEWAY, WITNESS):
                self._gateway_fault(action, node)
            else:
                self._host_fault(action, node)

    def _host_uuid(self, name):
        if name in self.host_by_name:
            return self.host_by_name[name]
        if name in self.host_specs:
            return name
        raise SimUsageError("unknown host %r" % (name,))

    def _node_id(self, name):
        """A host uuid, or GATEWAY / WITNESS for the pool's gateway / witness (when it has one)."""
        if name == GATEWAY and self.world.gateway is not None:
            return GATEWAY
        if name == WITNESS and self.world.witness is not None:
            return WITNESS
        return self._host_uuid(name)

    def _node_name(self, node_id):
        return self.world.node(node_id).name_label

    def _vm_uuid(self, name):
        if name in self.vm_by_name:
            return self.vm_by_name[name]
        if name in self.world.vm_names:
            return name
        raise SimUsageError("unknown VM %r" % (name,))

    def _partition(self, _action, targets):
        if len(targets) < 2:
            raise SimUsageError("partition needs at least two groups, e.g. 'host1 host2,host3'")
        groups, seen = [], set()
        for arg in targets:
            names = [n for n in str(arg).split(",") if n]
            if not names:
                raise SimUsageError("empty partition group %r" % (arg,))
            group = []
            for name in names:
                host_uuid = self._node_id(name)
                if host_uuid in seen:
                    raise SimUsageError("host %s is in two partition groups" % name)
                seen.add(host_uuid)
                group.append(host_uuid)
            groups.append(group)
        self.world.partition(groups)

    def _cut(self, action, targets):
        """cut A B: the link between A and B is down both ways; cut-oneway A B: A's packets miss B."""
        if len(targets) != 2:
            raise SimUsageError("%s needs two names (hosts or the gateway), e.g. '%s host1 host2'" % (action, action))
        src, dst = self._node_id(targets[0]), self._node_id(targets[1])
        if src == dst:
            raise SimUsageError("%s: cannot cut %s from itself" % (action, targets[0]))
        self.world.links.cut(src, dst, both_ways=action == "cut")

    def _gateway_fault(self, action, node=GATEWAY):
        """The gateway or witness only powers off/on and loses/regains its link (no xapi, no VMs).

        The witness's service starts afresh at each power-on (it reads its state file again)."""
        truth = self.world.node(node)
        was = truth.power
        if action in ("power-off", "power-on"):
            truth.power = "on" if action == "power-on" else "off"
        elif action == "reboot":
            truth.power = "on"
        if node == WITNESS and truth.power == "on" and (was != "on" or action == "reboot") \
                and self.witness_started is not None:
            self.witness_started()
        elif action in ("link-down", "link-up"):
            truth.link_up = action == "link-up"

    def add_witness(self, address):
        """Give the pool a witness node at `address` (fault target 'witness'); its service is the caller's."""
        with self._lock:
            if address in self.world.by_address:
                raise SimUsageError("address %s is already taken" % address)
            self.world.add_witness(address)

    def witness_gate(self, client_addr):
        """Whether a request from client_addr reaches the witness and its answer gets back."""
        with self._lock:
            src = self.world.host_of_address(client_addr)
            return self.world.can_reach(src, WITNESS) and (src is None or self.world.can_reach(WITNESS, src))

    def add_gateway(self, address):
        """Give the pool a gateway at `address` (answers the reachability probe; fault target 'gateway')."""
        with self._lock:
            if address in self.world.by_address:
                raise SimUsageError("address %s is already a host's" % address)
            self.world.add_gateway(address)

    def _host_fault(self, action, host_uuid):
        truth = self.world.hosts[host_uuid]
        if action == "power-off":
            self._power_off(host_uuid)
        elif action == "power-on":
            self._power_on(host_uuid)
        elif action == "reboot":
            self._power_off(host_uuid)
            self._power_on(host_uuid)
        elif action == "hang-xapi":
            truth.hung = True
        elif action == "unhang-xapi":
            truth.hung = False
            self.dirty.setdefault(host_uuid, False)
        elif action in ("link-down", "link-up"):
            truth.link_up = action == "link-up"
            self._set_carrier(host_uuid, truth.link_up)
            if truth.link_up:
                for other in self.host_uuids:
                    self.dirty.setdefault(other, False)
        elif action in ("disk-fail", "disk-ok"):
            truth.disk_ok = action == "disk-ok"

    def _power_off(self, host_uuid):
        truth = self.world.hosts[host_uuid]
        if truth.power == "off":
            return
        self.services.power_off(host_uuid)  # power loss: its service's whole process tree dies (SIGKILL)
        self._end_freeze(host_uuid)
        self.world.kill_host(host_uuid)
        truth.power = "off"
        truth.hung = False
        truth.restart_from = truth.restart_until = None
        self.promote_at.pop(host_uuid, None)
        self._drop_local_sessions(host_uuid)

    def _power_on(self, host_uuid):
        truth = self.world.hosts[host_uuid]
        if truth.power == "on":
            return
        truth.power = "on"
        truth.hung = False
        truth.restart_from = truth.restart_until = None
        self._set_carrier(host_uuid, truth.link_up)
        self.dirty[host_uuid] = True
        self.services.power_on(host_uuid)  # the same command, environment and output as registered

    def _freeze(self, host_uuid, seconds):
        """The whole dom0 stops for `seconds`: xapi and network answers hang, its service is SIGSTOPped.

        Its guests keep running (Xen still schedules them). A freeze of a
        frozen host sets the new end; power-off ends it.
        """
        truth = self.world.hosts[host_uuid]
        if truth.power != "on":
            raise SimUsageError("freeze: host %s is powered off" % truth.name_label)
        self._end_freeze(host_uuid, thaw=False)
        truth.frozen_until = self.clock() + seconds
        self.services.freeze(host_uuid)
        timer = threading.Timer(seconds, self._thaw_due, (host_uuid, truth.frozen_until))
        timer.daemon = True
        self._thaws[host_uuid] = timer
        timer.start()

    def _thaw_due(self, host_uuid, until):
        with self._lock:
            if self.world.hosts[host_uuid].frozen_until != until:
                return  # already thawed by a tick, powered off or frozen again meanwhile
            self._end_freeze(host_uuid)
            self._sync_check()
            self._tick()
        self._notify()

    def _end_freeze(self, host_uuid, thaw=True):
        """The dom0 resumes where it was: xapi answers again (then resyncs), the service gets SIGCONT."""
        timer = self._thaws.pop(host_uuid, None)
        if timer is not None:
            timer.cancel()
        truth = self.world.hosts[host_uuid]
        if truth.frozen_until is None:
            return
        truth.frozen_until = None
        if thaw:
            self.services.thaw(host_uuid)
            self.dirty.setdefault(host_uuid, False)

    def _set_carrier(self, host_uuid, carrier):
        host_ref = self.host_refs[host_uuid]
        for db in self.dbs.values():
            if not db.exists("host", host_ref):
                continue
            for pif in db.field("host", host_ref, "PIFs"):
                if db.exists("PIF", pif) and db.field("PIF", pif, "management"):
                    metrics = db.field("PIF", pif, "metrics")
                    if db.exists("PIF_metrics", metrics) and db.field("PIF_metrics", metrics, "carrier") != carrier:
                        db.set("PIF_metrics", metrics, carrier=carrier)

    def _crash_vm(self, vm_uuid):
        for host_uuid in self.world.running_on(vm_uuid):
            self.world.stop_domain(vm_uuid, host_uuid, by_fault=True)
            self.dirty.setdefault(host_uuid, False)

    def _set_paused(self, vm_uuid, paused):
        """pause-vm / unpause-vm: every domain of the VM stops / resumes running guest code (xl pause).

        The VM's resident host reports it (power_state Paused / Running) in
        every database that places it there; a paused leftover elsewhere is
        not XAPI's to report, and unpausing it beside a running copy is a
        double run.
        """
        for host_uuid in list(self.world.domains.get(vm_uuid, ())):
            changed = (self.world.pause_domain if paused else self.world.unpause_domain)(vm_uuid, host_uuid)
            if not changed:
                continue
            host_ref = self.host_refs[host_uuid]
            for db in self.dbs.values():
                vm_ref = db.by_uuid("VM", vm_uuid)
                if vm_ref is not None and db.field("VM", vm_ref, "resident_on") == host_ref and \
                        db.field("VM", vm_ref, "power_state") in RUNNING_STATES:
                    db.set("VM", vm_ref, power_state="Paused" if paused else "Running")

    def _leave_paused(self, vm_uuid, host_uuid):
        """leave-paused VM HOST: the remnant of an operation cut off on HOST, a paused domain of VM.

        What an admin finds in `xl list` after e.g. a live migration whose
        last step was cut off (the destination resumed the VM, the source
        domain stays paused) or a VM.start that a toolstack restart
        interrupted (xenopsd builds every domain paused and unpauses it last).
        The domain holds the VM's disks (the attach marker of HOST); XAPI
        does not place the VM there. It runs no guest code: not a double run
        until someone unpauses it.
        """
        if self.world.hosts[host_uuid].power != "on":
            raise SimUsageError("leave-paused: host %s is powered off" % self.world.hosts[host_uuid].name_label)
        if host_uuid in self.world.domains.get(vm_uuid, ()):
            raise SimUsageError("leave-paused: %s already has a domain on %s" % (
                self.world.vm_names.get(vm_uuid, vm_uuid), self.world.hosts[host_uuid].name_label))
        self.world.start_domain(vm_uuid, host_uuid, paused=True)
        host_ref = self.host_refs[host_uuid]
        for db in self.dbs.values():
            vm_ref = db.by_uuid("VM", vm_uuid)
            if vm_ref is not None:
                add_markers(db, vm_ref, host_ref)

    # ------------------------------------------------------- lost VMs
    def _is_protected(self, rec):
        if rec["is_a_template"] or rec["is_control_domain"] or rec["is_a_snapshot"]:
            return False
        return rec["other_config"].get(PROTECTED_KEY, "true") != "false"

    def _check_lost(self, now):
        if not self.world.lost_since:
            return
        db = self.db_of_status()
        for vm_uuid, since in list(self.world.lost_since.items()):
            if now - since < self.spec.lost_grace:
                continue
            vm_ref = db.by_uuid("VM", vm_uuid) if db is not None else None
            if vm_ref is None or not self._is_protected(db.get("VM", vm_ref)):
                continue
            self.world.add_violation("%s (protected) not running anywhere for more than %g s" % (
                self.world.vm_names.get(vm_uuid, vm_uuid), self.spec.lost_grace))



def _freeze_seconds(text):
    """A freeze length: a finite number of seconds, more than 0 and at most a day."""
    try:
        seconds = float(text)
    except (TypeError, ValueError):
        raise SimUsageError("freeze: not a number of seconds: %r" % (text,)) from None
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_FREEZE):
        raise SimUsageError("freeze: seconds must be more than 0 and at most %d: %r" % (MAX_FREEZE, text))
    return seconds
