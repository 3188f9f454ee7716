"""The outer dom0: a minimal XAPI endpoint showing every simulated host as one of its VMs.

Why: XVM fencing powers off a pool host by shutting down the VM that *is*
the host on an outer Xen host. This endpoint speaks the same wire protocol
(the official XenAPI client works against it) and maps VM power operations
onto host power faults of the simulated pool. It stands outside the pool:
partitions never affect it. Login uses its own root password (pool.json
`outer_password`, not the pool's), so it is
served over HTTPS only (port 443, the pool's self-signed certificate:
halizard.sim.tls), as ha-lizard's XVM agent requires.
"""
import http.server
import socketserver
import threading
import uuid as uuidlib
import xmlrpc.client

from halizard.sim.addresses import OUTER_PORT

NULL_REF = "OpaqueRef:NULL"


def outer_vm_uuid(host_uuid):
    """The uuid of the outer VM that contains simulated host `host_uuid` (stable)."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "sim-outer-vm:" + host_uuid))


def _ref(vm_uuid):
    return "OpaqueRef:" + str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "sim-outer-ref:" + vm_uuid))


class OuterFailure(Exception):
    def __init__(self, *description):
        Exception.__init__(self, description[0])
        self.description = [str(part) for part in description]


class OuterDom0(object):
    """XAPI semantics of the outer dom0 over one SimPool."""

    def __init__(self, pool, password, user="root"):
        self._pool = pool
        self._password = password
        self._user = user
        self._sessions = set()
        self._lock = threading.Lock()
        self._methods = {
            "session.login_with_password": (self.login, 2, 4),
            "session.logout": (self.logout, 1, 1),
            "VM.get_all": (self.get_all, 1, 1),
            "VM.get_all_records": (self.get_all_records, 1, 1),
            "VM.get_by_uuid": (self.get_by_uuid, 2, 2),
            "VM.get_by_name_label": (self.get_by_name_label, 2, 2),
            "VM.get_record": (self.get_record, 2, 2),
            "VM.get_power_state": (self.field("power_state"), 2, 2),
            "VM.get_uuid": (self.field("uuid"), 2, 2),
            "VM.get_name_label": (self.field("name_label"), 2, 2),
            "VM.hard_shutdown": (self.power_change("power-off", "running"), 2, 2),
            "VM.clean_shutdown": (self.power_change("power-off", "running"), 2, 2),
            "VM.hard_reboot": (self.power_change("reboot", "running"), 2, 2),
            "VM.clean_reboot": (self.power_change("reboot", "running"), 2, 2),
            "VM.start": (self.power_change("power-on", "halted"), 4, 4),
            "system.listMethods": (self.list_methods, 0, 0),
        }

    def caller_can_send(self, address):
        """False for a simulated host that is powered off or has lost its link (its calls never arrive)."""
        return self._pool.can_send(address)

    # --- dispatch -------------------------------------------------------
    def handle(self, method, params):
        """One call -> the {"Status": ...} answer XAPI would give."""
        entry = self._methods.get(method)
        if entry is None:
            return _failure("MESSAGE_METHOD_UNKNOWN", method)
        function, low, high = entry
        if not low <= len(params) <= high:
            return _failure("MESSAGE_PARAMETER_COUNT_MISMATCH", method, high, len(params))
        try:
            if method not in ("session.login_with_password", "system.listMethods"):
                self._check_session(params[0])
            return {"Status": "Success", "Value": function(*params)}
        except OuterFailure as failure:
            return {"Status": "Failure", "ErrorDescription": failure.description}

    def _check_session(self, session):
        with self._lock:
            if session not in self._sessions:
                raise OuterFailure("SESSION_INVALID", session)

    # --- session --------------------------------------------------------
    def login(self, user, password, *_version_and_originator):
        if user != self._user or password != self._password:
            raise OuterFailure("SESSION_AUTHENTICATION_FAILED", user, "Authentication failure")
        session = "OpaqueRef:" + str(uuidlib.uuid4())
        with self._lock:
            self._sessions.add(session)
        return session

    def logout(self, session):
        with self._lock:
            self._sessions.discard(session)
        return ""

    def list_methods(self):
        return sorted(self._methods)

    # --- VMs ------------------------------------------------------------
    def _records(self):
        """{ref: record} for every simulated host, power state from ground truth."""
        hosts = self._pool.status()["hosts"]
        records = {}
        for host in hosts:
            vm_uuid = outer_vm_uuid(host["uuid"])
            records[_ref(vm_uuid)] = {
                "uuid": vm_uuid,
                "name_label": host["name_label"],
                "name_description": "simulated XCP-ng host %s" % host["name_label"],
                "power_state": "Running" if host["power"] == "on" else "Halted",
                "is_a_template": False,
                "is_control_domain": False,
                "resident_on": NULL_REF,
                "other_config": {"sim_host_uuid": host["uuid"]},
            }
        return records

    def _record(self, ref):
        record = self._records().get(ref)
        if record is None:
            raise OuterFailure("HANDLE_INVALID", "VM", ref)
        return record

    def get_all(self, _session):
        return sorted(self._records())

    def get_all_records(self, _session):
        return self._records()

    def get_record(self, _session, ref):
        return self._record(ref)

    def get_by_uuid(self, _session, vm_uuid):
        for ref, record in self._records().items():
            if record["uuid"] == vm_uuid:
                return ref
        raise OuterFailure("UUID_INVALID", "VM", vm_uuid)

    def get_by_name_label(self, _session, name):
        return sorted(ref for ref, record in self._records().items() if record["name_label"] == name)

    def field(self, name):
        def getter(_session, ref):
            return self._record(ref)[name]

        return getter

    def power_change(self, action, expected):
        """A VM power operation = a host power fault, refused from the wrong state."""

        def operate(_session, ref, *_flags):
            record = self._record(ref)
            actual = record["power_state"].lower()
            if actual != expected:
                raise OuterFailure("VM_BAD_POWER_STATE", ref, expected, actual)
            self._pool.fault(action, [record["name_label"]])
            return ""

        return operate


def _failure(*description):
    return {"Status": "Failure", "ErrorDescription": [str(part) for part in description]}


class _OuterHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "xapi"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002
        """Quiet: request bodies carry the password."""

    def do_POST(self):
        if not self.server.dom0.caller_can_send(self.client_address[0]):
            self.close_connection = True  # a dead or cut-off host's packets never arrive: no answer
            return
        try:
            size = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            size = -1
        if not 0 <= size <= 1024 * 1024:
            self._send(400, b"Content-Length required\n", "text/plain")
            return
        try:
            params, method = xmlrpc.client.loads(self.rfile.read(size))
        except Exception:  # noqa: BLE001 - malformed request
            self._send(500, b"Malformed XML-RPC request\n", "text/plain")
            return
        answer = self.server.dom0.handle(method or "", list(params))
        payload = xmlrpc.client.dumps((answer,), methodresponse=True, allow_none=True)
        self._send(200, payload.encode("utf-8"), "text/xml")

    def _send(self, code, payload, content_type):
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass


class OuterServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, port, dom0, tls_context):
        self.dom0 = dom0
        self.tls_context = tls_context
        http.server.HTTPServer.__init__(self, (address, port), _OuterHandler)

    def get_request(self):
        """TLS on every connection; the handshake runs in the request's own thread (first read)."""
        sock, address = http.server.HTTPServer.get_request(self)
        return self.tls_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    @property
    def url(self):
        address, port = self.server_address[:2]
        return "https://%s/" % address if port == 443 else "https://%s:%d/" % (address, port)

    def close(self):
        self.shutdown()
        self.server_close()


def start_outer(pool, password, address, tls_context, port=OUTER_PORT):
    """Start the outer dom0 endpoint (HTTPS) in a thread; returns the OuterServer (.url, .close())."""
    server = OuterServer(address, port, OuterDom0(pool, password), tls_context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="outer")
    thread.daemon = True
    thread.start()
    return server
