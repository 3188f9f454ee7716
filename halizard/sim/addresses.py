"""Loopback address blocks for simulated pools, and clients bound to them.

Why: every simulated host needs its own address (so partitions can be
enforced by source address) and several pools (parallel tests, the demo)
must never collide. A block is 127.X.Y.0/24 with random X, Y in a high
range, verified free by binding; hosts get .1 .. .N, the witness .200
(`sim up --witness`), the gateway .252 (it answers the reachability probe,
for FENCE_HEURISTICS_IPS), the outer dom0 .253, the control endpoint .254.
"""
import errno
import http.client
import random
import socket
import xmlrpc.client

XAPI_PORT = 80
PROBE_PORT = 7
PEER_PORT = 7694  # UDP: the peer query (PEER_PORT on a real dom0, 694); unprivileged, one per host address
CONTROL_PORT = 80
OUTER_PORT = 443
MAX_HOSTS = 199
WITNESS_OCTET = 200
WITNESS_PORT = 5405
GATEWAY_OCTET = 252
OUTER_OCTET = 253
CONTROL_OCTET = 254
SECOND_OCTETS = (100, 250)


class AddressError(Exception):
    """No free loopback block could be found or bound."""


class AddressBlock(object):
    """One /24 under 127/8 reserved for one simulated pool."""

    def __init__(self, second, third):
        self.prefix = "127.%d.%d" % (second, third)

    def host_address(self, index):
        """Address of the index-th host (0-based)."""
        if not 0 <= index < MAX_HOSTS:
            raise AddressError("host index %d outside 0..%d" % (index, MAX_HOSTS - 1))
        return "%s.%d" % (self.prefix, index + 1)

    @property
    def control_address(self):
        return "%s.%d" % (self.prefix, CONTROL_OCTET)

    @property
    def witness_address(self):
        return "%s.%d" % (self.prefix, WITNESS_OCTET)

    @property
    def gateway_address(self):
        return "%s.%d" % (self.prefix, GATEWAY_OCTET)

    @property
    def outer_address(self):
        return "%s.%d" % (self.prefix, OUTER_OCTET)

    def needed_endpoints(self, host_count):
        """Every (address, port) this pool will listen on."""
        pairs = []
        for index in range(host_count):
            address = self.host_address(index)
            pairs.append((address, XAPI_PORT))
            pairs.append((address, PROBE_PORT))
        pairs.append((self.gateway_address, PROBE_PORT))
        pairs.append((self.witness_address, WITNESS_PORT))
        pairs.append((self.control_address, CONTROL_PORT))
        pairs.append((self.outer_address, OUTER_PORT))
        return pairs

    def __repr__(self):
        return "AddressBlock(%s.0/24)" % self.prefix


def _is_free(address, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(1)
        return True
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
            return False
        raise
    finally:
        sock.close()


def allocate_block(host_count, attempts=64, rng=None):
    """A block whose every needed endpoint is free right now."""
    if not 1 <= host_count <= MAX_HOSTS:
        raise AddressError("host count must be 1..%d, not %d" % (MAX_HOSTS, host_count))
    rng = rng or random.SystemRandom()
    for _ in range(attempts):
        block = AddressBlock(rng.randint(*SECOND_OCTETS), rng.randint(1, 254))
        if all(_is_free(address, port) for address, port in block.needed_endpoints(host_count)):
            return block
    raise AddressError("no free loopback block found after %d attempts" % attempts)


class _BoundHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, source, timeout):
        source_address = (source, 0) if source else None
        http.client.HTTPConnection.__init__(self, host, timeout=timeout, source_address=source_address)


def _bound_https(host, source, timeout):
    """HTTPS to a simulated endpoint (self-signed pool certificate: not verified)."""
    from halizard.xapi.transport import unverified_context

    return http.client.HTTPSConnection(host, timeout=timeout, source_address=(source, 0) if source else None,
                                       context=unverified_context())


class BoundTransport(xmlrpc.client.Transport):
    """An XML-RPC transport with a deadline, optionally bound to a source address (tls: HTTPS).

    Binding the client to a simulated host's address makes the simulator
    treat the call as coming from that host (partitions apply).
    """

    def __init__(self, timeout=5.0, source=None, tls=False):
        xmlrpc.client.Transport.__init__(self)
        self._timeout = timeout
        self._source = source
        self._tls = tls

    def make_connection(self, host):
        if self._connection and host == self._connection[0]:
            return self._connection[1]
        chost, self._extra_headers, _x509 = self.get_host_info(host)
        connect = _bound_https if self._tls else _BoundHTTPConnection
        self._connection = host, connect(chost, self._source, self._timeout)
        return self._connection[1]
