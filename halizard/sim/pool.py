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

The class is split by concern: pool_roles (time, roles, transitions,
liveness, domains), pool_faults (fault injection, lost VMs), pool_hosts
(status, the simulated platform, host services); this module holds the
state and the wire.
"""
import threading
import time
import uuid as uuidlib

from halizard.sim import apidesc, xmlwire
from halizard.sim import services as services_mod
from halizard.sim.api import registry as registry_mod
from halizard.sim.api import unix_socket
from halizard.sim.api.errors import XapiError
from halizard.sim.db import NULL_REF, now_datetime
from halizard.sim.pool_errors import SimUsageError, XapiUnavailable
from halizard.sim.pool_faults import FAULT_ACTIONS, GATEWAY_ACTIONS, PROTECTED_KEY, FaultsMixin
from halizard.sim.pool_hosts import HostsMixin
from halizard.sim.pool_roles import ANSWER_GRACE, RolesMixin
from halizard.sim.spec import build_database
from halizard.sim.world import World

__all__ = ["ANSWER_GRACE", "FAULT_ACTIONS", "GATEWAY_ACTIONS", "OUTSIDE", "PROTECTED_KEY", "Call", "SimPool",
           "SimUsageError", "XapiUnavailable", "encode_result"]

OUTSIDE = None  # reachability source for clients that are not simulated hosts


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


class SimPool(RolesMixin, FaultsMixin, HostsMixin):
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
        call.master_uuid = self._serving_master(host_uuid, handler, params)
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
            _check_handles(call.db, handler, params)
        return call

    def _serving_master(self, host_uuid, handler, params):
        """The master whose database serves this call (None: a slave answers it alone)."""
        if self.role[host_uuid] == "master":
            return host_uuid
        if handler.slave_ok:
            return None
        master = self.master_of[host_uuid]
        if handler.session and params and isinstance(params[0], str) and params[0] in self.local_sessions:
            if self.role.get(master) != "master" or not self.world.answers(host_uuid, master):
                raise XapiError("CANNOT_CONTACT_HOST", self.host_specs[master].address)
            return master
        if handler.session:
            raise XapiError("HOST_IS_SLAVE", self.host_specs[master].address)
        return None

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


def _check_handles(db, handler, params):
    """HANDLE_INVALID for a ref parameter that names no object of its class (a null `value` is allowed)."""
    for (ptype, pname), value in zip(handler.params[1:] if handler.session else handler.params,
                                     params[1:] if handler.session else params):
        if ptype.endswith(" ref") and ptype != "session ref" and not (pname == "value" and value == NULL_REF):
            cls = ptype[:-len(" ref")]
            if cls in db.tables and (not isinstance(value, str) or not db.exists(cls, value)):
                raise XapiError("HANDLE_INVALID", cls, value)


def encode_result(value):
    """A task result as XAPI stores it: xapi's XML-RPC text of the value (`<value></value>` for void)."""
    return xmlwire.value("" if value is None else value)
