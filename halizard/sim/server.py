"""The xapi wire of every simulated host: one HTTP server per host address.

Why: the official XenAPI client, fence_xenapi and JSON-RPC clients must talk
to the simulator exactly as to a real xapi, and failures must look like
network failures. Per request the peer address decides reachability
(unreachable: the connection is reset without an answer); a hung xapi
accepts and never answers; a down xapi resets; a request xapi cannot decode
is HTTP 500; anything else goes to `pool.handle`. `POST /jsonrpc...` is
JSON-RPC (jsonrpc.py), every other POST XML-RPC (xmlwire.py); answers carry
xapi's status line and headers, and HTTP/1.1 connections are kept alive as
xapi keeps them. A thread per connection, so long-polls and VM starts never
block others.
"""
import http.server
import socket
import socketserver
import struct
import threading

from halizard.sim import jsonrpc, xmlwire
from halizard.sim.addresses import PROBE_PORT, XAPI_PORT
from halizard.sim.pool import XapiUnavailable
from halizard.sim.probe import HOLD_POLL_SECONDS, ProbeServer, peer_closed

MAX_BODY_BYTES = 16 * 1024 * 1024
IDLE_CLIENT_SECONDS = 120.0
JSONRPC_PATH = "/jsonrpc"  # xapi's handler matches the longest path prefix: "/jsonrpc..." is JSON-RPC
NO_CACHE = ("cache-control", "no-cache, no-store")
CORS = [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Headers", "X-Requested-With")]
ERROR_PAGE = ("<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a "
              "while and try again. If the problem persists, please contact your support representative."
              "<h1> Additional information </h1>%s</body></html>")
_HTML_ESCAPES = {ord("<"): "&lt;", ord(">"): "&gt;", ord("'"): "&apos;", ord('"'): "&quot;", ord("&"): "&amp;"}


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


class _XapiHandler(http.server.BaseHTTPRequestHandler):
    """One request to one simulated host's xapi."""

    protocol_version = "HTTP/1.1"  # keep-alive unless the client asks for HTTP/1.0 or "Connection: close"
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
        self.close_connection = True
        self._send(403, "Forbidden", b"Forbidden\n", [("content-type", "text/plain"), ("connection", "close")])

    def do_POST(self):
        length = self.headers.get("Content-Length")
        try:
            size = int(length)
        except (TypeError, ValueError):
            size = -1
        if not 0 <= size <= MAX_BODY_BYTES:
            self.close_connection = True
            self._send(400, "Bad Request", b"Content-Length required\n",
                       [("content-type", "text/plain"), ("connection", "close")])
            return
        body = self.rfile.read(size)
        if not self._hold_while_hung():
            return
        is_json = self.path.split("?", 1)[0].startswith(JSONRPC_PATH)
        try:
            if is_json:
                call = jsonrpc.decode_call(body)
                method, params = call.method, call.params
            else:
                method, params = xmlwire.decode_call(body)
        except xmlwire.MalformedRequest as exc:
            self._send_error_page(str(exc))
            return
        answer = self._serve(method, params)
        if answer is None or not self._still_answerable():
            return
        try:
            if is_json:
                pool = self.server.pool
                payload = jsonrpc.encode_answer(call, answer, jsonrpc.result_type(pool.handlers, method), pool.desc)
            elif method == "system.listMethods" and answer.get("Status") == "Success":
                payload = xmlwire.response(answer["Value"])  # xapi sends this one bare, without Status
            else:
                payload = xmlwire.response(answer)
        except (OverflowError, TypeError, ValueError) as exc:
            self.server.report("cannot encode answer to %s: %s" % (method, exc))
            self._send_error_page("cannot encode the answer")
            return
        content_type = "application/json" if is_json else "text/xml"
        self._send(200, "OK", payload.encode("utf-8"),
                   [("connection", "close" if self.close_connection else "keep-alive"), NO_CACHE,
                    ("content-type", content_type)] + CORS)

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

    def _send_error_page(self, detail):
        """xapi's HTTP 500 page (http_svr.ml response_internal_error); the connection closes."""
        self.close_connection = True
        page = ERROR_PAGE % detail.translate(_HTML_ESCAPES)
        self._send(500, "Internal Error", page.encode("utf-8"),
                   [("content-type", "text/html"), ("connection", "close"), NO_CACHE])

    def _send(self, code, reason, payload, headers):
        """Status line and headers as xapi writes them: no Date or Server, content-length first."""
        version = "1.0" if self.request_version == "HTTP/1.0" else "1.1"
        lines = ["HTTP/%s %d %s" % (version, code, reason), "content-length: %d" % len(payload)]
        lines.extend("%s: %s" % header for header in headers)
        try:
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
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
