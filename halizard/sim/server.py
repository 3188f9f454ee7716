"""The XML-RPC wire of every simulated host: one HTTP server per host address.

Why: the official XenAPI client must talk to the simulator exactly as to a
real xapi, and failures must look like network failures. Per request the
peer address decides reachability (unreachable: the connection is reset
without an answer); a hung xapi accepts and never answers; a down xapi
resets; malformed XML is HTTP 500; anything else goes to `pool.handle`.
A thread per request, so long-polls and VM starts never block others.
"""
import http.server
import socket
import socketserver
import struct
import threading
import xmlrpc.client

from halizard.sim.addresses import PROBE_PORT, XAPI_PORT
from halizard.sim.pool import XapiUnavailable
from halizard.sim.probe import ProbeServer

HOLD_POLL_SECONDS = 0.05
MAX_BODY_BYTES = 16 * 1024 * 1024
IDLE_CLIENT_SECONDS = 120.0


def reset_connection(sock):
    """Close `sock` with a TCP reset: the client sees a failure, not an answer."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def peer_closed(sock):
    """True when the client has gone away (EOF or error), without consuming data."""
    previous = sock.gettimeout()
    try:
        sock.setblocking(False)
        try:
            data = sock.recv(1, socket.MSG_PEEK)
        finally:
            sock.settimeout(previous)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    return data == b""


class _XapiHandler(http.server.BaseHTTPRequestHandler):
    """One request to one simulated host's xapi."""

    protocol_version = "HTTP/1.0"
    server_version = "xapi"
    sys_version = ""
    timeout = IDLE_CLIENT_SECONDS  # a client that connects and sends nothing is dropped, not kept forever

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        """Quiet: request lines would flood sim.log and may carry secrets."""

    def handle(self):
        self.server.track(self.connection)
        try:
            if self._gate() is None:
                return
            http.server.BaseHTTPRequestHandler.handle(self)
        finally:
            self.server.untrack(self.connection)

    def _peer(self):
        return self.client_address[0]

    def _gate(self):
        """Decide whether this host can answer now; drop the connection if not."""
        pool, host = self.server.pool, self.server.host_uuid
        if not pool.can_reach(self._peer(), host) or pool.xapi_state(host) == "down":
            self._drop()
            return None
        return True

    def _drop(self):
        self.close_connection = True
        reset_connection(self.connection)

    def _hold_while_hung(self):
        """A hung xapi never answers: wait until it recovers, the client leaves or we close."""
        pool, host = self.server.pool, self.server.host_uuid
        while pool.xapi_state(host) == "hung":
            if self.server.closing.wait(HOLD_POLL_SECONDS) or peer_closed(self.connection):
                self._drop()
                return False
        if self._gate() is None:
            return False
        return True

    def do_GET(self):
        if not self._hold_while_hung():
            return
        self._send(403, b"Forbidden\n", "text/plain")

    def do_POST(self):
        length = self.headers.get("Content-Length")
        try:
            size = int(length)
        except (TypeError, ValueError):
            size = -1
        if not 0 <= size <= MAX_BODY_BYTES:
            self._send(400, b"Content-Length required\n", "text/plain")
            return
        body = self.rfile.read(size)
        if not self._hold_while_hung():
            return
        try:
            params, method = xmlrpc.client.loads(body, use_builtin_types=False)
        except Exception:  # noqa: BLE001 - any decoding failure is the client's malformed XML
            self._send(500, b"Malformed XML-RPC request\n", "text/plain")
            return
        if not method:
            self._send(500, b"No method name in request\n", "text/plain")
            return
        answer = self._serve(method, list(params))
        if answer is None or not self._still_answerable():
            return
        try:
            payload = xmlrpc.client.dumps((answer,), methodresponse=True, allow_none=True)
        except (OverflowError, TypeError) as exc:
            self.server.report("cannot encode answer to %s: %s" % (method, exc))
            self._send(500, b"Cannot encode answer\n", "text/plain")
            return
        self._send(200, payload.encode("utf-8"), "text/xml")

    def _serve(self, method, params):
        """pool.handle; a state change to hung/down during the call is served like that state."""
        while True:
            try:
                return self.server.pool.handle(self.server.host_uuid, method, params, self._peer())
            except XapiUnavailable as exc:
                if exc.state == "hung" and self._hold_while_hung():
                    continue
                self._drop()
                return None

    def _still_answerable(self):
        """A host that lost power or link while working never delivers the answer.

        A xapi restart the call itself began (emergency transition, restart_agent)
        still delivers its answer: the call had completed.
        """
        pool, host = self.server.pool, self.server.host_uuid
        if not pool.can_reach(self._peer(), host):
            self._drop()
            return False
        while pool.xapi_state(host) == "hung":
            if self.server.closing.wait(HOLD_POLL_SECONDS) or peer_closed(self.connection):
                self._drop()
                return False
        return True

    def _send(self, code, payload, content_type):
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True


class HostXapiServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """The xapi endpoint of one simulated host."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, port, pool, host_uuid, report=None):
        self.pool = pool
        self.host_uuid = host_uuid
        self.closing = threading.Event()
        self._open = set()
        self._open_lock = threading.Lock()
        self._report = report
        http.server.HTTPServer.__init__(self, (address, port), _XapiHandler)

    def report(self, text):
        if self._report:
            self._report(text)

    def track(self, sock):
        with self._open_lock:
            self._open.add(sock)

    def untrack(self, sock):
        with self._open_lock:
            self._open.discard(sock)

    def handle_error(self, request, client_address):
        """Client resets and our own drops are normal here; report the rest briefly."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        self.report("xapi %s: %s: %s" % (self.server_address[0], type(exc).__name__, exc))

    def close(self):
        self.closing.set()
        self.shutdown()
        self.server_close()
        with self._open_lock:
            held = list(self._open)
        for sock in held:
            reset_connection(sock)


class SimServers(object):
    """Every per-host endpoint of one pool (xapi + reachability probe)."""

    def __init__(self):
        self.urls = {}
        self.probe_ports = {}
        self._servers = []
        self._threads = []

    def _run(self, server, name):
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=name)
        thread.daemon = True
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)

    def close(self):
        """Stop every endpoint at once (each shutdown waits for one poll interval)."""
        close_all(self._servers)
        for thread in self._threads:
            thread.join(timeout=5.0)
        self._servers = []
        self._threads = []


def close_all(servers):
    """Close servers (objects with .close()) in parallel, ignoring socket errors."""

    def close_one(server):
        try:
            server.close()
        except OSError:
            pass

    closers = [threading.Thread(target=close_one, args=(server,)) for server in servers]
    for closer in closers:
        closer.daemon = True
        closer.start()
    for closer in closers:
        closer.join(timeout=10.0)


def start_servers(pool, hosts=None, xapi_port=XAPI_PORT, probe_port=PROBE_PORT, report=None):
    """Start xapi + probe endpoints for every host of `pool`.

    `hosts`: [(host_uuid, address)]; defaults to pool.describe()["hosts"].
    Returns SimServers with `.urls` {host_uuid: "http://ADDR/"}; on any bind
    failure every server already started is closed again and OSError raised.
    """
    if hosts is None:
        hosts = [(entry["uuid"], entry["address"]) for entry in pool.describe()["hosts"]]
    servers = SimServers()
    try:
        for host_uuid, address in hosts:
            xapi = HostXapiServer(address, xapi_port, pool, host_uuid, report=report)
            servers._run(xapi, "xapi-%s" % address)
            probe = ProbeServer(address, probe_port, pool, host_uuid)
            servers._run(probe, "probe-%s" % address)
            port_part = "" if xapi_port == 80 else ":%d" % xapi_port
            servers.urls[host_uuid] = "http://%s%s/" % (address, port_part)
            servers.probe_ports[host_uuid] = probe.server_address[1]
    except BaseException:
        servers.close()
        raise
    return servers
