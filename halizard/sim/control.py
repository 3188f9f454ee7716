"""The control endpoint of a simulated pool: faults, status and the simulated platform.

Why: the sim CLI (another process) injects faults and reads ground truth,
and each simulated host's platform layer (`halizard.platform.sim`) asks for
its local domains, reboots, etc. One small JSON-over-HTTP protocol on a
loopback address: POST / {"method": m, "params": [...]} answers
{"result": r} (200), or {"error": {"kind": "usage"|"internal", "message": s}}
(400 / 500). Not subject to partitions: it is the operator's console.
Registering a host's service runs a command as the pool's owner, so it needs
the pool's control token (pool.json, readable by root only).
"""
import hmac
import http.client
import http.server
import inspect
import json
import socketserver
import threading
import urllib.parse

from halizard.sim.addresses import CONTROL_PORT

MAX_BODY_BYTES = 1024 * 1024


class ControlError(Exception):
    """The control endpoint failed or could not be reached."""


class ControlUsageError(ControlError):
    """The simulator rejected the request (unknown action, host or VM name...)."""


def _is_usage_error(exc):
    return any(cls.__name__ in ("SimUsageError", "ControlUsageError") for cls in type(exc).__mro__)


class ControlService(object):
    """The methods the control endpoint offers, over one SimPool."""

    def __init__(self, pool, on_shutdown=None, token=None):
        self._pool = pool
        self._on_shutdown = on_shutdown
        self._token = token

    def fault(self, action, targets):
        self._pool.fault(action, list(targets))
        return True

    def status(self):
        return self._pool.status()

    def describe(self):
        return self._pool.describe()

    def local_domains(self, host_uuid):
        return list(self._pool.local_domains(host_uuid))

    def destroy_domain(self, host_uuid, vm_uuid):
        self._pool.destroy_domain(host_uuid, vm_uuid)
        return True

    def reboot_host(self, host_uuid):
        self._pool.reboot_host(host_uuid)
        return True

    def restart_toolstack(self, host_uuid):
        self._pool.restart_toolstack(host_uuid)
        return True

    def disk_health(self, host_uuid):
        """Simulated disks are healthy unless the pool models otherwise."""
        probe = getattr(self._pool, "disk_health", None)
        if probe is not None:
            return probe(host_uuid)
        self._pool.local_domains(host_uuid)  # validates the host uuid
        return {"healthy": True, "detail": "simulated disk: no SMART errors"}

    def _authorize(self, token):
        if not (self._token and isinstance(token, str) and hmac.compare_digest(token, self._token)):
            raise ControlUsageError("registering a service needs the pool's control token (pool.json)")

    def service_start(self, token, host, argv=None, env=None, cwd=None, output=None):
        """Register host `host`'s service and start it (SimPool.register_service); returns its state."""
        self._authorize(token)
        return self._pool.register_service(host, argv, env, cwd, output)

    def service_stop(self, token, host, grace=10.0):
        """Stop and forget host `host`'s service (SIGTERM, its tree killed after `grace` s)."""
        self._authorize(token)
        if not isinstance(grace, (int, float)) or not 0 <= grace <= 300:
            raise ControlUsageError("service_stop: grace must be 0..300 seconds")
        return self._pool.unregister_service(host, grace)

    def service_state(self, host):
        return self._pool.service_state(host)

    def can_reach(self, client_address, host_uuid):
        """Whether a packet from `client_address` reaches host `host_uuid` (the peer query's gate)."""
        return bool(self._pool.can_reach(client_address, host_uuid))

    def ping(self):
        return "pong"

    def shutdown(self):
        if self._on_shutdown is not None:
            threading.Thread(target=self._on_shutdown, name="control-shutdown", daemon=True).start()
        return True

    METHODS = (
        "fault", "status", "describe", "local_domains", "destroy_domain", "reboot_host",
        "restart_toolstack", "disk_health", "can_reach", "ping", "shutdown", "service_start", "service_stop", "service_state",
    )


class _ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):  # noqa: A002
        """Quiet."""

    def do_POST(self):
        try:
            size = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            size = -1
        if not 0 <= size <= MAX_BODY_BYTES:
            self._answer(400, {"error": {"kind": "usage", "message": "Content-Length required"}})
            return
        try:
            request = json.loads(self.rfile.read(size).decode("utf-8"))
            method = request["method"]
            params = request.get("params", [])
            if method not in ControlService.METHODS or not isinstance(params, list):
                raise KeyError(method)
        except (ValueError, KeyError, TypeError, AttributeError):
            self._answer(400, {"error": {"kind": "usage", "message": "bad control request"}})
            return
        function = getattr(self.server.service, method)
        try:
            inspect.signature(function).bind(*params)
        except TypeError as exc:
            self._answer(400, {"error": {"kind": "usage", "message": "%s: %s" % (method, exc)}})
            return
        try:
            result = function(*params)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an answer
            if _is_usage_error(exc):
                self._answer(400, {"error": {"kind": "usage", "message": str(exc)}})
            else:
                self._answer(500, {"error": {"kind": "internal", "message": "%s: %s" % (type(exc).__name__, exc)}})
            return
        self._answer(200, {"result": result})

    def _answer(self, code, document):
        payload = (json.dumps(document) + "\n").encode("utf-8")
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass


class ControlServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """The control endpoint: every host's simulated platform calls it (local domains, destroys, the
    peer gate), so its listen queue is as deep as the xapi endpoints' (the default 5 reset calls
    when a 64-host pool's services asked at once)."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, port, service):
        self.service = service
        http.server.HTTPServer.__init__(self, (address, port), _ControlHandler)

    @property
    def url(self):
        address, port = self.server_address[:2]
        return "http://%s:%d/" % (address, port)

    def close(self):
        self.shutdown()
        self.server_close()


def start_control(pool, address, port=CONTROL_PORT, on_shutdown=None, token=None):
    """Start the control endpoint in a thread; returns the ControlServer (.url, .close())."""
    server = ControlServer(address, port, ControlService(pool, on_shutdown, token))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="control")
    thread.daemon = True
    thread.start()
    return server


def call(url, method, *params, **options):
    """Call `method` on the control endpoint at `url` within `timeout` seconds (default 10).

    Raises ControlUsageError for rejected requests, ControlError otherwise.
    """
    timeout = options.pop("timeout", 10.0)
    source = options.pop("source", None)
    if options:
        raise TypeError("unknown options: %s" % ", ".join(sorted(options)))
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ControlError("bad control url %r" % url)
    body = json.dumps({"method": method, "params": list(params)}).encode("utf-8")
    connection = http.client.HTTPConnection(
        parts.hostname, parts.port or 80, timeout=timeout,
        source_address=(source, 0) if source else None,
    )
    try:
        connection.request("POST", parts.path or "/", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        raw = response.read()
    except OSError as exc:
        raise ControlError("simulator control endpoint %s did not answer: %s" % (url, exc)) from None
    except http.client.HTTPException as exc:
        raise ControlError("simulator control endpoint %s: %s" % (url, type(exc).__name__)) from None
    finally:
        connection.close()
    try:
        document = json.loads(raw.decode("utf-8"))
    except ValueError:
        raise ControlError("simulator control endpoint %s: unreadable answer" % url) from None
    if "error" in document:
        error = document["error"]
        cls = ControlUsageError if error.get("kind") == "usage" else ControlError
        raise cls(error.get("message", "unknown error"))
    return document.get("result")
