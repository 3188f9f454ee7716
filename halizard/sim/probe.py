"""The reachability endpoint of a simulated host (the simulator's "ping").

Why: a network probe of a peer must be a real network operation that power-offs,
link loss and partitions affect, yet is independent of xapi (a hung xapi
still "pings"). A TCP connection to the host's address on the probe port
gets one byte (b"+") when the caller can reach the host, a reset otherwise;
a frozen host (`sim fault freeze`) answers nothing until it resumes, so the
prober times out.
"""
import socket
import socketserver
import struct
import time

PROBE_REPLY = b"+"
HOLD_POLL_SECONDS = 0.05   # how often a held connection (frozen host, hung xapi) looks again


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


class _ProbeHandler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        while self.server.pool.frozen(self.server.host_uuid):
            if peer_closed(sock):
                return
            time.sleep(HOLD_POLL_SECONDS)
        if self.server.pool.can_reach(self.client_address[0], self.server.host_uuid):
            try:
                sock.sendall(PROBE_REPLY)
            except OSError:
                pass
            return
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass


class ProbeServer(socketserver.ThreadingTCPServer):
    """Accepts, answers one byte only when the peer can reach this host.

    A probe is answered in the accept loop itself; only a frozen host's probe,
    which is held until it resumes, gets a thread. Why: every host's
    self_fence loop probes every peer each second, so a 64-host pool sends
    about 4,000 probes a second into this one process, and a thread started
    for each made the simulator itself the pool's bottleneck.
    """

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, port, pool, host_uuid):
        self.pool = pool
        self.host_uuid = host_uuid
        socketserver.ThreadingTCPServer.__init__(self, (address, port), _ProbeHandler)

    def process_request(self, request, client_address):
        if self.pool.frozen(self.host_uuid):
            socketserver.ThreadingMixIn.process_request(self, request, client_address)
            return
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - as the threaded path: the accept loop goes on
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def handle_error(self, request, client_address):
        """A probing client that resets first is normal."""

    def close(self):
        self.shutdown()
        self.server_close()


def probe(address, port, timeout=1.0, source=None):
    """True when a probe of (address, port) from `source` gets the reply byte in time."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        if source:
            sock.bind((source, 0))
        sock.connect((address, port))
        return sock.recv(1) == PROBE_REPLY
    except OSError:
        return False
    finally:
        sock.close()
