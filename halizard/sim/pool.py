"""SimPool: the in-process heart of the XAPI pool simulator.

Why: the network layer (server.py) turns each XML-RPC request into
`handle(host_uuid, method, params, client_addr)`; everything XAPI would
decide - which host is master, which database it serves, what a call does,
which errors it raises - and everything that really happens (ground truth,
faults, violations) is decided here, under one re-entrant lock. Long waits
(VM start latency, appliance delays, event.from) happen outside the lock.

Databases: each host that believes it is master owns one `Database`; a slave
serves its master's. An emergency transition gives the promoted host a copy
of the database it last belonged to (taken when it comes back as master), so
two masters with diverging databases can exist, as in life.
"""
import math
import os
import threading
import time
import uuid as uuidlib

from halizard import paths
from halizard.sim import apidesc, roots, xmlwire
from halizard.sim import services as services_mod
from halizard.sim.api import registry as registry_mod
from halizard.sim.api import unix_socket
from halizard.sim.api.common import (RUNNING_STATES, add_markers, clear_markers, halt_in_db, marker_key,
                                     set_resident, set_vbds_attached)
from halizard.sim.api.errors import XapiError
from halizard.sim.db import NULL_REF, now_datetime
from halizard.sim.links import GATEWAY, WITNESS
from halizard.sim.spec import build_database, dom0_uuid_of
from halizard.sim.world import World

FAULT_ACTIONS = ("power-off", "power-on", "reboot", "hang-xapi", "unhang-xapi", "link-down", "link-up",
                 "crash-vm", "partition", "heal", "disk-fail", "disk-ok", "pause-vm", "unpause-vm", "leave-paused",
                 "freeze", "cut", "cut-oneway")
GATEWAY_ACTIONS = ("power-off", "power-on", "reboot", "link-down", "link-up")  # the gateway (and witness) run no xapi
OUTSIDE = None  # reachability source for clients that are not simulated hosts
PROTECTED_KEY = "sim-protected"
ANSWER_GRACE = 0.2  # seconds a restarting xapi still answers the call that restarted it
MAX_FREEZE = 24 * 3600.0  # seconds; a longer freeze is a typo


class SimUsageError(ValueError):
    """Bad fault or platform request (unknown action, host or VM name)."""


class XapiUnavailable(Exception):
    """The host's xapi does not answer right now: state is 'down' or 'hung'.

    server.py should treat the request as it treats that state (refuse the
    connection / never answer); handle() raises this only when the state
    changed between the server's check and the call.
    """

    def __init__(self, state):
        Exception.__init__(self, state)
        self.state = state


class Call(object):
    """One request being served: where it arrived, its session and database."""

    def __init__(self, pool, host_uuid, client_addr, method):
        self.pool = pool
        self.host_uuid = host_uuid
        self.client_addr = client_addr
        self.method = method
        self.session = None
        self.local = False
        self.db = None
        self.master_uuid = None
        self.task = None
        self.preauth = False  # came through the host's Unix socket: local root, no password asked


class SimPool(object):
    """XAPI semantics, databases and ground truth of one simulated pool."""

    def __init__(self, spec, clock=time.monotonic):
        self.spec = spec
        self.desc = apidesc.load()
        self.clock = clock
        self._lock = threading.RLock()
        self._changed = threading.Condition()
        self.world = World(clock)
        self.witness_started = None  # called (under the lock) when the witness powers on: it restarts
        self.host_uuids = [str(uuidlib.uuid4()) for _ in spec.hosts]
        self.host_specs = dict(zip(self.host_uuids, spec.hosts))
        self.host_by_name = {h.name_label: u for u, h in self.host_specs.items()}
        vm_names = spec.vm_names()
        self.vm_uuids = [str(uuidlib.uuid4()) for _ in vm_names]
        self.vm_by_name = dict(zip(vm_names, self.vm_uuids))
        db, self.host_refs, self.vm_refs = build_database(spec, self.desc, self.host_uuids, self.vm_uuids)
        self.host_by_ref = {ref: u for u, ref in self.host_refs.items()}
        master = self.host_uuids[0]
        self.dbs = {master: db}
        self.role = {u: "slave" for u in self.host_uuids}
        self.role[master] = "master"
        self.master_of = {u: master for u in self.host_uuids if u != master}
        self.epoch = {master: 0}
        self._epochs = 0
        self.promote_at = {}
        self.local_sessions = {}
        self.clear_password_logins = []  # TCP (plain HTTP) logins that carried a password: must stay empty
        self.dirty = {}  # host uuid -> True when it booted (xapi must resync with its master)
        self.synced = {}  # slave uuid -> copy of its master's database when it lost contact
        self.tasks_running = 0
        self.services = services_mod.Services()  # each host's registered service process (services.py)
        self._thaws = {}  # host uuid -> the threading.Timer that ends its freeze
        self._calls = {h.name_label: {} for h in spec.hosts}  # host name -> {method: count} its xapi answered
        self._calls_lock = threading.Lock()
        for host_uuid, host in self.host_specs.items():
            self.world.add_host(host_uuid, host.name_label, host.address)
        for name, vm_uuid in self.vm_by_name.items():
            self.world.vm_names[vm_uuid] = name
        for index, vm_uuid in enumerate(self.vm_uuids):
            self.world.start_domain(vm_uuid, self.host_uuids[index % len(self.host_uuids)])
        self.world.start_log = []
        for host_uuid in self.host_uuids:
            self._write_root(host_uuid)
        reg = registry_mod.Registry(self.desc)
        from halizard.sim.api import build_registry
        build_registry(reg)
        self.handlers = reg.handlers

    # ------------------------------------------------------------------ wire
    def handle(self, host_uuid, method, params, client_addr="127.0.0.1", local=False):
        """Serve one call arriving at host_uuid; returns the XAPI answer dict.

        The one dispatch point of every transport: each call answered here
        (success or failure) is counted for status "calls".
        local: it came through the host's Unix socket (halizard.sim.local_socket).
        """
        try:
            if local:
                value = unix_socket.serve(self, host_uuid, method, list(params))
            else:
                unix_socket.note_clear_password(self, host_uuid, method, params, client_addr)
                value = self._dispatch(host_uuid, method, list(params), client_addr)
            self._count(host_uuid, method)
            return {"Status": "Success", "Value": "" if value is None else value}
        except XapiError as exc:
            self._count(host_uuid, method)
            if not local and exc.description[0] == "SESSION_AUTHENTICATION_FAILED":
                time.sleep(self.spec.auth_failure_delay)   # outside the pool lock, as xapi's own pause
            return {"Status": "Failure", "ErrorDescription": exc.description}
        except XapiUnavailable:
            raise
        except Exception as exc:  # a simulator bug must still answer like XAPI, never leak a secret
            self._count(host_uuid, method)
            text = ("%s: %s" % (type(exc).__name__, exc)).replace(self.spec.password, "***")
            return {"Status": "Failure", "ErrorDescription": ["INTERNAL_ERROR", text]}
        finally:
            self._notify()

    def _count(self, host_uuid, method):
        host = self.host_specs.get(host_uuid)
        name = host.name_label if host is not None else str(host_uuid)
        key = method if isinstance(method, str) else repr(method)
        with self._calls_lock:
            per_host = self._calls.setdefault(name, {})
            per_host[key] = per_host.get(key, 0) + 1

    def calls(self):
        """{host name: {method: count}}: the calls each host's xapi answered since the pool started."""
        with self._calls_lock:
            return {name: dict(counts) for name, counts in self._calls.items()}

    def method_names(self):
        """Every wire name served (system.listMethods)."""
        names = set(self.handlers)
        names.update("Async.%s" % n for n, h in self.handlers.items() if h.async_ok)
        names.add("system.listMethods")
        return sorted(names)

    def _dispatch(self, host_uuid, method, params, client_addr, preauth=False):
        if not isinstance(method, str):
            raise XapiError("MESSAGE_METHOD_UNKNOWN", repr(method))
        is_async = method.startswith("Async.")
        base = method[len("Async."):] if is_async else method
        if base == "system.listMethods" and not is_async:
            return self.method_names()
        handler = self.handlers.get(base)
        if handler is None or (is_async and not handler.async_ok):
            raise XapiError("MESSAGE_METHOD_UNKNOWN", method)
        if not handler.accepts(len(params)):
            raise XapiError("MESSAGE_PARAMETER_COUNT_MISMATCH", method, len(handler.params), len(params))
        with self._lock:
            self._tick()
            call = self._admit(host_uuid, handler, params, client_addr, method)
            call.preauth = preauth
            args = params[1:] if handler.session else params
            if is_async:
                return self._spawn_task(call, handler, args, method)
            if not handler.blocking:
                return handler.fn(call, *args)
        return handler.fn(call, *args)

    def _admit(self, host_uuid, handler, params, client_addr, method):
        """Session, master/slave and handle checks for one call; returns its Call."""
        if host_uuid not in self.host_specs:
            raise XapiError("HOST_UNKNOWN", host_uuid)
        state = self.world.xapi_state(host_uuid)
        if state != "up":
            raise XapiUnavailable(state)
        call = Call(self, host_uuid, client_addr, method)
        if self.role[host_uuid] == "master":
            call.master_uuid = host_uuid
        elif not handler.slave_ok:
            master = self.master_of[host_uuid]
            if handler.session and params and isinstance(params[0], str) and params[0] in self.local_sessions:
                if self.role.get(master) != "master" or not self.world.answers(host_uuid, master):
                    raise XapiError("CANNOT_CONTACT_HOST", self.host_specs[master].address)
                call.master_uuid = master
            elif handler.session:
                raise XapiError("HOST_IS_SLAVE", self.host_specs[master].address)
        if call.master_uuid is not None:
            call.db = self.dbs[call.master_uuid]
        if handler.session:
            ref = params[0]
            if isinstance(ref, str) and self.local_sessions.get(ref) == host_uuid:
                call.local = True
            elif call.db is None or not isinstance(ref, str) or not call.db.exists("session", ref):
                raise XapiError("SESSION_INVALID", ref)
            call.session = ref
        if call.db is not None:
            for (ptype, pname), value in zip(handler.params[1:] if handler.session else handler.params,
                                             params[1:] if handler.session else params):
                if ptype.endswith(" ref") and ptype != "session ref" and not (pname == "value" and value == NULL_REF):
                    cls = ptype[:-len(" ref")]
                    if cls in call.db.tables and (not isinstance(value, str) or not call.db.exists(cls, value)):
                        raise XapiError("HANDLE_INVALID", cls, value)
        return call

    # ----------------------------------------------------------------- tasks
    def _spawn_task(self, call, handler, args, method):
        db = call.db
        task = db.create("task", {"name_label": method, "status": "pending", "progress": 0.0,
                                  "created": now_datetime(time.time()), "allowed_operations": [],
                                  "resident_on": self.host_refs[call.master_uuid]})
        call.task = task

        def run():
            error, value = None, ""
            try:
                if handler.blocking:
                    value = handler.fn(call, *args)
                else:
                    with self._lock:
                        value = handler.fn(call, *args)
            except XapiError as exc:
                error = exc.description
            except Exception as exc:  # keep the task honest even on a simulator bug
                error = ["INTERNAL_ERROR", ("%s: %s" % (type(exc).__name__, exc)).replace(self.spec.password, "***")]
            with self._lock:
                if db.exists("task", task):
                    fields = {"progress": 1.0, "finished": now_datetime(time.time())}
                    if error is None:
                        fields.update(status="success", result=encode_result(value))
                    else:
                        fields.update(status="failure", error_info=error)
                    db.set("task", task, **fields)
            self._notify()

        thread = threading.Thread(target=run, name="sim-%s" % method, daemon=True)
        thread.start()
        return task

    # ---------------------------------------------------------- time passing
    def _tick(self):
        """Apply what became due: thaws, promotions, resyncs after faults, lost VMs."""
        now = self.clock()
        thawed = [h for h in self._thaws if now >= self.world.hosts[h].frozen_until]
        for host_uuid in thawed:  # the timer only wakes a pool nobody polls
            self._end_freeze(host_uuid)
        if thawed:
            self._sync_check()
        for host_uuid, due in list(self.promote_at.items()):
            if now >= due and not self.world.frozen(host_uuid):  # a frozen dom0 finishes it once resumed
                del self.promote_at[host_uuid]
                self._promote(host_uuid)
        for host_uuid in list(self.dirty):
            if self._resync(host_uuid, self.dirty[host_uuid]):
                self.dirty.pop(host_uuid, None)
        self._check_lost(now)

    def _notify(self):
        with self._changed:
            self._changed.notify_all()

    def wait_for_change(self, timeout):
        """Block (without the pool lock) until something changes or timeout passes."""
        with self._changed:
            self._changed.wait(timeout)

    # ------------------------------------------------ roles and transitions
    def db_of(self, host_uuid):
        """The database a host's xapi serves (its own as master, else its master's)."""
        if self.role[host_uuid] == "master":
            return self.dbs[host_uuid]
        return self.dbs.get(self.master_of[host_uuid])

    def _write_root(self, host_uuid):
        """Directories, pool.conf, inventory and name of a host root (roots.py formats)."""
        host = self.host_specs[host_uuid]
        if not host.root:
            return
        for sub in ("etc/xensource", "etc/ha-lizard", "var/lib/ha-lizard"):
            os.makedirs(os.path.join(host.root, sub), exist_ok=True)
        self._write_pool_conf(host_uuid)
        roots.update_sim_marker(host.root, name_label=host.name_label)
        inventory = paths.under(host.root, paths.INVENTORY)
        if not os.path.exists(inventory):
            roots.atomic_write(inventory, roots.INVENTORY_TEMPLATE.format(
                host_uuid=host_uuid, dom0_uuid=dom0_uuid_of(host_uuid)))

    def _write_pool_conf(self, host_uuid):
        host = self.host_specs[host_uuid]
        if not host.root:
            return
        master = None
        if self.role[host_uuid] != "master":
            master = self.host_specs[self.master_of[host_uuid]].address
        roots.write_pool_conf(host.root, master)

    def begin_emergency_transition(self, host_uuid):
        """pool.emergency_transition_to_master: xapi down for `fuse` s, then master."""
        if self.role[host_uuid] == "master" or host_uuid in self.promote_at:
            return
        now = self.clock()
        due = now + self.spec.fuse
        truth = self.world.hosts[host_uuid]
        # the call itself is answered; xapi goes down right after, for the rest of the fuse
        truth.restart_from = now + min(ANSWER_GRACE, self.spec.fuse / 2.0)
        truth.restart_until = due
        self.promote_at[host_uuid] = due
        self._drop_local_sessions(host_uuid)

    def _sync_check(self):
        """Slaves that just lost contact with their master keep the copy they had then.

        That copy (shared between slaves losing contact at the same moment) is
        what an emergency transition promotes: changes the master made while
        the slave could not see it are, as in life, not in the new master's view.
        """
        shared = {}
        for host_uuid in self.host_uuids:
            if self.role[host_uuid] != "slave":
                continue
            master = self.master_of[host_uuid]
            if self.role.get(master) == "master" and self.world.answers(host_uuid, master):
                self.synced.pop(host_uuid, None)
            elif host_uuid not in self.synced and master in self.dbs:
                if master not in shared:
                    shared[master] = self.dbs[master].snapshot()
                self.synced[host_uuid] = shared[master]

    def _promote(self, host_uuid):
        old_master = self.master_of.get(host_uuid)
        source = self.synced.pop(host_uuid, None) or self.dbs.get(old_master)
        if source is None:  # the master it pointed at was itself demoted: use any surviving copy
            source = self.db_of_status()
        db = source.snapshot()
        host_ref = self.host_refs[host_uuid]
        for pool_ref in db.refs("pool"):
            db.set("pool", pool_ref, master=host_ref)
        if db.exists("host", host_ref):
            db.set("host", host_ref, enabled=True)
        self.role[host_uuid] = "master"
        self.master_of.pop(host_uuid, None)
        self.dbs[host_uuid] = db
        self._epochs += 1
        self.epoch[host_uuid] = self._epochs
        self._write_pool_conf(host_uuid)
        self.dirty[host_uuid] = False

    def recover_slaves(self, master_uuid):
        """pool.recover_slaves: re-point every reachable live host; returns their refs."""
        db = self.dbs[master_uuid]
        recovered = []
        for host_ref in db.refs("host"):
            other = self.host_by_ref.get(host_ref)
            if other is None or other == master_uuid:
                continue
            if not (self.world.answers(master_uuid, other) and self.world.answers(other, master_uuid)):
                continue
            self.point_at(other, master_uuid)
            recovered.append(host_ref)
        return recovered

    def point_at(self, host_uuid, master_uuid):
        """Make host_uuid a slave of master_uuid (its own database, if any, is dropped)."""
        if self.role[host_uuid] == "master":
            self.dbs.pop(host_uuid, None)
            self.epoch.pop(host_uuid, None)
        self.role[host_uuid] = "slave"
        self.master_of[host_uuid] = master_uuid
        self.synced.pop(host_uuid, None)
        self.promote_at.pop(host_uuid, None)
        self._drop_local_sessions(host_uuid)
        self._write_pool_conf(host_uuid)
        self.dirty[host_uuid] = False

    def _drop_local_sessions(self, host_uuid):
        for ref in [r for r, h in self.local_sessions.items() if h == host_uuid]:
            del self.local_sessions[ref]

    def _resync(self, host_uuid, booted):
        """A host's xapi tells its master what really runs there. True when done."""
        truth = self.world.hosts[host_uuid]
        if truth.power != "on":
            return True
        if self.world.xapi_state(host_uuid) != "up":
            return False
        if self.role[host_uuid] == "master":
            db = self.dbs[host_uuid]
        else:
            master = self.master_of[host_uuid]
            if self.role.get(master) != "master" or not self.world.answers(host_uuid, master):
                return False
            db = self.dbs[master]
        host_ref = self.host_refs[host_uuid]
        if not db.exists("host", host_ref):
            return True
        local = set(self.world.local_domains(host_uuid))
        for vm_ref in list(db.get("host", host_ref)["resident_VMs"]):
            rec = db.get("VM", vm_ref)
            if rec["is_control_domain"] or rec["power_state"] not in RUNNING_STATES:
                continue
            if rec["uuid"] not in local:
                halt_in_db(db, vm_ref, clear_disks=False)
                clear_markers(db, vm_ref, host_ref)
        self._clear_stale_markers(db, host_ref, local)
        if booted:
            metrics = db.field("host", host_ref, "metrics")
            if db.exists("host_metrics", metrics):
                db.set("host_metrics", metrics, live=True)
            db.set("host", host_ref, enabled=True)
        return True

    def _clear_stale_markers(self, db, host_ref, local):
        """The host detaches disks of VMs it does not really run (e.g. after a boot)."""
        key = marker_key(host_ref)
        for vdi_ref, vdi in db.items("VDI"):
            if key not in vdi["sm_config"]:
                continue
            runs_here = False
            for vbd_ref in vdi["VBDs"]:
                if db.exists("VBD", vbd_ref):
                    vm_ref = db.field("VBD", vbd_ref, "VM")
                    if db.exists("VM", vm_ref) and db.field("VM", vm_ref, "uuid") in local:
                        runs_here = True
            if not runs_here:
                del vdi["sm_config"][key]
                db.touch("VDI", vdi_ref)

    # ------------------------------------------------------------ liveness
    def xapi_state(self, host_uuid):
        """'up', 'hung' or 'down' (powered off or restarting)."""
        with self._lock:
            self._tick()
            return self.world.xapi_state(host_uuid)

    def can_reach(self, client_addr, host_uuid):
        """Whether a packet from client_addr reaches host_uuid (partitions, links, power)."""
        with self._lock:
            return self.world.can_reach(self.world.host_of_address(client_addr), host_uuid)

    def frozen(self, host_uuid):
        """Whether the host's dom0 is frozen now (its network answers hang until it resumes)."""
        with self._lock:
            return self.world.frozen(host_uuid)

    def can_send(self, client_addr):
        """Whether a packet from client_addr leaves its host at all (outside callers always can).

        An unplugged host's service keeps running, but its packets never reach an endpoint that
        stands outside the pool (the outer dom0); a powered-off host sends nothing (power-off also
        kills its registered service, but a test may still send from its address).
        """
        with self._lock:
            uuid = self.world.host_of_address(client_addr)
            if uuid is None:
                return True
            truth = self.world.node(uuid)
            return truth.power == "on" and truth.link_up

    def host_answers_master(self, master_uuid, host_ref):
        """Whether the host behind host_ref answers its master's xapi (HOST_IS_LIVE)."""
        host_uuid = self.host_by_ref.get(host_ref)
        return host_uuid is not None and self.world.answers(master_uuid, host_uuid)

    # ----------------------------------------------------------- domains
    def start_domain(self, db, vm_ref, host_uuid, paused=False):
        """Ground truth and database agree a VM now runs on host_uuid."""
        host_ref = self.host_refs[host_uuid]
        vm_uuid = db.field("VM", vm_ref, "uuid")
        self.world.start_domain(vm_uuid, host_uuid, paused=paused)
        set_resident(db, vm_ref, host_ref, "Paused" if paused else "Running")
        set_vbds_attached(db, vm_ref, True)
        add_markers(db, vm_ref, host_ref)
        metrics = db.field("VM", vm_ref, "metrics")
        if db.exists("VM_metrics", metrics):
            db.set("VM_metrics", metrics, start_time=now_datetime(time.time()))
        self._domid = getattr(self, "_domid", 10000) + 1
        db.set("VM", vm_ref, domid=str(self._domid))

    def stop_domain(self, db, vm_ref, by_fault=False):
        """The VM's domain on its resident host ends; the database says Halted."""
        rec = db.get("VM", vm_ref)
        host_uuid = self.host_by_ref.get(rec["resident_on"])
        if host_uuid is not None:
            self.world.stop_domain(rec["uuid"], host_uuid, by_fault=by_fault)
        if not by_fault:
            self.world.operator_stopped(rec["uuid"])
        halt_in_db(db, vm_ref, clear_disks=True)

    # -------------------------------------------------------------- faults
    def fault(self, action, targets=()):
        """Inject one fault. Raises SimUsageError for unknown actions or names."""
        targets = list(targets)
        with self._lock:
            self._tick()
            if action not in FAULT_ACTIONS:
                raise SimUsageError("unknown fault %r (one of: %s)" % (action, ", ".join(FAULT_ACTIONS)))
            if action == "heal":
                if targets:
                    raise SimUsageError("heal takes no targets")
                self.world.heal()
                for host_uuid in self.host_uuids:
                    self.dirty.setdefault(host_uuid, False)
            elif action == "partition":
                self._partition(targets)
            elif action in ("cut", "cut-oneway"):
                self._cut(action, targets)
            elif action in ("crash-vm", "pause-vm", "unpause-vm"):
                if not targets:
                    raise SimUsageError("%s needs at least one VM name" % action)
                for vm_uuid in [self._vm_uuid(name) for name in targets]:
                    if action == "crash-vm":
                        self._crash_vm(vm_uuid)
                    else:
                        self._set_paused(vm_uuid, action == "pause-vm")
            elif action == "freeze":
                if len(targets) != 2:
                    raise SimUsageError("freeze needs a host name and a number of seconds")
                self._freeze(self._host_uuid(targets[0]), _freeze_seconds(targets[1]))
            elif action == "leave-paused":
                if len(targets) != 2:
                    raise SimUsageError("leave-paused needs a VM name and a host name")
                self._leave_paused(self._vm_uuid(targets[0]), self._host_uuid(targets[1]))
            else:
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
            self._tick()
            self._sync_check()
        self._notify()

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

    def _partition(self, targets):
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
                return self.services.register(host_uuid, self.host_specs[host_uuid].name_label, argv, env, cwd,
                                              output, self.world.hosts[host_uuid].power == "on",
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


def _freeze_seconds(text):
    """A freeze length: a finite number of seconds, more than 0 and at most a day."""
    try:
        seconds = float(text)
    except (TypeError, ValueError):
        raise SimUsageError("freeze: not a number of seconds: %r" % (text,)) from None
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_FREEZE):
        raise SimUsageError("freeze: seconds must be more than 0 and at most %d: %r" % (MAX_FREEZE, text))
    return seconds


def encode_result(value):
    """A task result as XAPI stores it: xapi's XML-RPC text of the value (`<value></value>` for void)."""
    return xmlwire.value("" if value is None else value)
