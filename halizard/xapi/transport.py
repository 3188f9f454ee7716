"""XML-RPC transports with a deadline: TCP (HTTP or HTTPS) to a host, or this host's xapi Unix socket.

Why: the XenAPI package has no call timeout (`XenAPI.xapi_local()` neither),
so a dead or hung xapi would block a caller forever (behaviour.md section 6).
Every connection made here carries a socket deadline, can be cut from
another thread (`abort`), sends each request exactly once, and checks that
the answer is one XAPI status struct.
"""
import http.client
import os
import select
import socket
import ssl
import xmlrpc.client
from xml.parsers.expat import ExpatError

# The longest path a Unix socket address holds (sun_path is 108 bytes with its NUL).
UNIX_PATH_MAX = 107


class MalformedResponse(xmlrpc.client.ResponseError):
    """The peer answered, but not with a XAPI XML-RPC response (the text says how)."""


def _check_shape(result):
    """Raise MalformedResponse unless `result` is one XAPI status struct XenAPI can read."""
    if not (isinstance(result, tuple) and len(result) == 1 and isinstance(result[0], dict)):
        raise MalformedResponse("not a single struct")
    answer = result[0]
    status = answer.get("Status")
    if status == "Success":
        if "Value" not in answer:
            raise MalformedResponse("Success without Value")
        return
    description = answer.get("ErrorDescription")
    if status is None or not isinstance(description, (list, tuple)) or not description:
        raise MalformedResponse("no Status or ErrorDescription")


def _peer_closed(sock):
    """True when a kept-alive socket is readable while idle: the peer closed it (or sent junk)."""
    try:
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        readable, _w, _x = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def unix_call(sock, method, path):
    """sock.connect(path) or sock.bind(path) (`method`), also for a path longer than a socket address holds.

    A long path (deep test roots) is reached through its directory opened
    here: /proc/self/fd/N/<name> is short and names the same file.
    """
    if len(path.encode()) <= UNIX_PATH_MAX:
        return getattr(sock, method)(path)
    directory, name = os.path.split(path)
    fd = os.open(directory or ".", os.O_RDONLY)
    try:
        return getattr(sock, method)("/proc/self/fd/%d/%s" % (fd, name))
    finally:
        os.close(fd)


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket (xapi's /var/lib/xcp/xapi), with the socket deadline of HTTPConnection."""

    def __init__(self, path, timeout):
        http.client.HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            unix_call(sock, "connect", self.unix_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class DeadlineTransport(xmlrpc.client.Transport):
    """HTTP transport whose sockets carry a deadline and a source address (TCP), or go to a Unix socket.

    use_tls: HTTPS, encrypted but the certificate not checked (unverified_context).
    unix_path: every request goes to that socket instead.
    """

    def __init__(self, timeout, source_address=None, use_tls=False, unix_path=None):
        super().__init__()
        self.timeout = float(timeout)
        self.source_address = source_address
        self.use_tls = use_tls
        self.unix_path = unix_path
        self.expired = False

    def request(self, host, handler, request_body, verbose=False):
        """Send the request exactly once.

        Why: xmlrpc.client re-sends a request whose connection broke, on a fresh
        connection. The server may already have run it (message.create, VM.start):
        a second run is worse than an error. A kept-alive connection the peer
        closed while idle is detected before sending instead (make_connection).
        """
        return self.single_request(host, handler, request_body, verbose)

    def make_connection(self, host):
        if self.expired:
            # a call past its deadline must not open a new connection
            raise socket.timeout("deadline passed")
        if self._connection and host == self._connection[0]:
            conn = self._connection[1]
            if conn.sock is not None and _peer_closed(conn.sock):
                self.close()   # stale keep-alive: reconnect before sending, never after
                return self.make_connection(host)
            conn.timeout = self.timeout
            if conn.sock is not None:
                conn.sock.settimeout(self.timeout)
            return conn
        chost, self._extra_headers, _x509 = self.get_host_info(host)
        source = (self.source_address, 0) if self.source_address else None
        if self.unix_path:
            conn = UnixHTTPConnection(self.unix_path, self.timeout)
        elif self.use_tls:
            conn = http.client.HTTPSConnection(chost, timeout=self.timeout,
                                               source_address=source, context=unverified_context())
        else:
            conn = http.client.HTTPConnection(chost, timeout=self.timeout, source_address=source)
        self._connection = host, conn
        return conn

    def parse_response(self, response):
        """The XML-RPC answer, checked to be what XenAPI expects (MalformedResponse if not)."""
        try:
            result = super().parse_response(response)
        except (ExpatError, ValueError, TypeError, OverflowError, xmlrpc.client.ResponseError) as exc:
            raise MalformedResponse(type(exc).__name__) from None
        _check_shape(result)
        return result

    def abort(self):
        """Cut the connection in use (from another thread): a blocked read returns at once."""
        self.expired = True
        connection = self._connection[1] if self._connection else None
        sock = getattr(connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def unverified_context():
    """TLS that encrypts but checks no certificate.

    Why: XCP-ng 8.2 and XenServer 7.x hosts serve self-signed certificates
    that a client has no CA to verify against (docs/fencing.md): the wire is
    encrypted, the peer is not authenticated.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context

