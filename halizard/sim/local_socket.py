"""Each simulated host's local xapi socket: `<root>/var/lib/xcp/xapi`, as on a real dom0.

Why: ha-lizard and ha-cfg talk to their own host's xapi through this Unix
socket as local root, without a password (halizard.xapi.session). The
requests go through the same handler as the host's TCP endpoint
(halizard.sim.server), so the wire, the hung/down states and power-off are
the same; only the semantics differ (halizard.sim.api.unix_socket): no
password, and on a slave a call forwarded to a master that does not answer
gets no answer until it does, as the real slave keeps retrying its link.
"""
import os
import socketserver
import threading

from halizard.sim.pool import XapiUnavailable
from halizard.sim.probe import HOLD_POLL_SECONDS, peer_closed
from halizard.sim.server import HostXapiServer, _XapiHandler
from halizard.xapi.session import local_socket_path
from halizard.xapi.transport import unix_call


class _LocalHandler(_XapiHandler):
    """A request on the socket: it comes from the host itself."""

    def _peer(self):
        return self.server.own_address

    def _serve(self, method, params):
        pool, host = self.server.pool, self.server.host_uuid
        while True:
            try:
                return pool.handle(host, method, params, self._peer(), local=True)
            except XapiUnavailable as exc:
                if exc.state == "down" and pool.xapi_state(host) == "down":
                    self._drop()
                    return None
            # hung here, or a slave whose master does not answer: no answer until that changes
            if self.server.closing.wait(HOLD_POLL_SECONDS) or peer_closed(self.connection) \
                    or self._gate() is None:
                self._drop()
                return None


class LocalXapiServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The Unix-socket endpoint of one simulated host's xapi."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    # the state and bookkeeping of the TCP endpoint, shared with its handler
    report = HostXapiServer.report
    track = HostXapiServer.track
    untrack = HostXapiServer.untrack
    close = HostXapiServer.close

    def __init__(self, path, pool, host_uuid, report=None):
        self.pool = pool
        self.host_uuid = host_uuid
        self.own_address = pool.host_specs[host_uuid].address
        self.closing = threading.Event()
        self._open = set()
        self._open_lock = threading.Lock()
        self._report = report
        self.path = path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)  # a socket file left by a pool that did not stop cleanly
        socketserver.UnixStreamServer.__init__(self, path, _LocalHandler)

    def server_bind(self):
        unix_call(self.socket, "bind", self.server_address)
        os.chmod(self.server_address, 0o600)   # root only, as xapi's own socket

    def handle_error(self, request, client_address):
        import sys

        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            self.report("xapi socket %s: %s: %s" % (self.path, type(exc).__name__, exc))

    def server_close(self):
        socketserver.UnixStreamServer.server_close(self)
        try:
            os.unlink(self.path)
        except OSError:
            pass


def start_local_sockets(pool, servers, report=None):
    """Serve `<root>/var/lib/xcp/xapi` for every host of `pool` with a root; added to `servers` (SimServers)."""
    for host_uuid, spec in pool.host_specs.items():
        if not spec.root:
            continue
        server = LocalXapiServer(local_socket_path(spec.root), pool, host_uuid, report=report)
        servers._run(server, "xapi-socket-%s" % spec.name_label)
    return servers

