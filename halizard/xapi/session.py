"""XAPI sessions that never hang: a deadline on every call, typed errors,
the master found from this host's files, HOST_IS_SLAVE followed once.

Why: the XenAPI package has no call timeout, so a dead master would block a
caller forever (behaviour.md section 6). Every connection made here carries a
socket deadline and may be bound to a source address (a simulated host's own
loopback address, so network partitions apply to its tools too).

Credentials: a dom0 tool logs in with the pool's root credentials, kept in
`<root>/etc/ha-lizard/xapi-credentials` (JSON `{"user": "root", "password":
"..."}`, mode 0600). A simulated host without that file uses the password of
its simulated pool (`pool.json` above its root). The password is held only in
memory and never appears in a message, log line or exception.
"""
import http.client
import json
import os
import select
import socket
import ssl
import threading
import time
import xmlrpc.client
from xml.parsers.expat import ExpatError

import XenAPI

from halizard import hostinfo, paths
from halizard.xapi.errors import (
    XapiCredentialsMissing,
    XapiError,
    XapiFailure,
    XapiTimeout,
    XapiUnreachable,
)

CREDENTIALS_FILE = "/etc/ha-lizard/xapi-credentials"
DEFAULT_TIMEOUT = 10.0
ORIGINATOR = "ha-lizard"


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


class _DeadlineTransport(xmlrpc.client.Transport):
    """HTTP transport whose sockets carry a deadline and a source address."""

    def __init__(self, timeout, source_address=None, use_tls=False):
        super().__init__()
        self.timeout = float(timeout)
        self.source_address = source_address
        self.use_tls = use_tls
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
        if self.use_tls:
            # XAPI certificates are self-signed on nearly every pool.
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection(chost, timeout=self.timeout,
                                               source_address=source, context=context)
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


class _Calls:
    """`session.xenapi.VM.get_all()` style access routed through XapiSession.call."""

    def __init__(self, session, name=None):
        self._session = session
        self._name = name

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        full = name if self._name is None else "%s.%s" % (self._name, name)
        return _Calls(self._session, full)

    def __call__(self, *args, timeout=None):
        return self._session.call(self._name, *args, timeout=timeout)


class XapiSession:
    """One XAPI login with a default per-call deadline (seconds).

    Safe to share between threads: each thread gets its own HTTP connection
    (xmlrpc transports are not thread-safe), all using the same XAPI session;
    a re-login after SESSION_INVALID in one thread is shared with the others.
    """

    def __init__(self, url, timeout=DEFAULT_TIMEOUT, source_address=None):
        if timeout is None or float(timeout) <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        self.url = url
        self.timeout = float(timeout)
        self.source_address = source_address
        self.logged_in = False
        self._lock = threading.Lock()
        self._local = threading.local()
        self._transports = []
        self._shared = {"handle": None, "method": None, "params": None}

    def __repr__(self):
        return "<XapiSession %s>" % self.url

    def _proxy(self):
        """This thread's XenAPI proxy, carrying the shared session handle."""
        proxy = getattr(self._local, "proxy", None)
        if proxy is None:
            transport = _DeadlineTransport(self.timeout, self.source_address,
                                           use_tls=self.url.lower().startswith("https:"))
            proxy = XenAPI.Session(self.url, transport=transport)
            self._local.proxy = proxy
            self._local.transport = transport
            with self._lock:
                self._transports.append(transport)
        with self._lock:
            if self._shared["handle"] is not None and proxy._session != self._shared["handle"]:
                proxy._session = self._shared["handle"]
                proxy.last_login_method = self._shared["method"]
                proxy.last_login_params = self._shared["params"]
        return proxy

    def _remember(self, proxy):
        """Share a (re-)login made by this thread's proxy."""
        with self._lock:
            if proxy._session is not None and proxy._session != self._shared["handle"]:
                self._shared = {"handle": proxy._session, "method": proxy.last_login_method,
                                "params": proxy.last_login_params}

    @property
    def xenapi(self):
        return _Calls(self)

    @property
    def handle(self):
        """The opaque session reference (for APIs that want it explicitly)."""
        return self._shared["handle"]

    def login(self, user, password, timeout=None):
        """Log in with a password; raises XapiFailure (e.g. HOST_IS_SLAVE)."""
        proxy = self._proxy()
        self._guarded(lambda: proxy.login_with_password(user, password, "1.0", ORIGINATOR),
                      "session.login_with_password", timeout)
        self._remember(proxy)
        self.logged_in = True
        return self

    def call(self, method, *args, timeout=None):
        """Call `Class.method(*args)` with this session; deadline `timeout` or the default."""
        if not self.logged_in:
            raise XapiFailure("SESSION_NOT_LOGGED_IN", [method])
        proxy = self._proxy()
        dispatcher = proxy.xenapi
        for part in method.split("."):
            dispatcher = getattr(dispatcher, part)
        try:
            return self._guarded(lambda: dispatcher(*args), method, timeout)
        finally:
            self._remember(proxy)

    def logout(self):
        """Best effort, short deadline, never raises."""
        if not self.logged_in:
            return
        self.logged_in = False
        proxy = self._proxy()
        try:
            self._guarded(lambda: proxy.xenapi.session.logout(), "session.logout", min(self.timeout, 2.0))
        except XapiError:
            pass
        finally:
            with self._lock:
                self._shared = {"handle": None, "method": None, "params": None}
            self.close(all_threads=True)

    def close(self, all_threads=False):
        """Drop this thread's connection (or every thread's); the login stays valid."""
        with self._lock:
            transports = list(self._transports) if all_threads else [getattr(self._local, "transport", None)]
        for transport in transports:
            if transport is None:
                continue
            try:
                transport.close()
            except Exception:  # noqa: BLE001 - closing a dead socket must never fail the caller
                pass

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.logout()
        return False

    def _guarded(self, thunk, method, timeout):
        """Run one XML-RPC exchange under `timeout`; map every failure to a typed error."""
        seconds = self.timeout if timeout is None else float(timeout)
        self._proxy()
        transport = self._local.transport
        transport.timeout = seconds
        transport.expired = False
        # The socket timeout bounds each read; this timer bounds the whole exchange, so
        # a peer that trickles bytes cannot stretch a call past its deadline either.
        expired = threading.Event()

        def expire():
            expired.set()
            transport.abort()

        timer = threading.Timer(seconds, expire)
        timer.daemon = True
        timer.start()
        try:
            result = thunk()
        except XenAPI.Failure as exc:
            details = list(exc.details) if isinstance(exc.details, (list, tuple)) else [exc.details]
            raise XapiFailure(details[0] if details else "UNKNOWN", details[1:]) from None
        except Exception as exc:  # noqa: BLE001 - mapped to a typed error or re-raised unchanged
            if expired.is_set():
                self.close()
                raise XapiTimeout(self.url, seconds, method) from None
            typed = self._typed(exc, method, seconds)
            if typed is None:
                raise
            raise typed from None
        finally:
            timer.cancel()
        if expired.is_set():
            self.close()   # the answer arrived, but the connection may have been cut: start afresh
        return result

    def _typed(self, exc, method, seconds):
        """The typed XAPI error for a transport/protocol exception (None: not ours to map)."""
        if isinstance(exc, socket.timeout):
            self.close()
            return XapiTimeout(self.url, seconds, method)
        if isinstance(exc, xmlrpc.client.Fault):
            if exc.faultCode == 504:
                self.close()
                return XapiTimeout(self.url, seconds, method)
            return XapiFailure("XMLRPC_FAULT", [exc.faultCode, exc.faultString])
        if isinstance(exc, xmlrpc.client.ProtocolError):
            self.close()
            return XapiFailure("HTTP_ERROR", [exc.errcode, exc.errmsg])
        if isinstance(exc, (ExpatError, xmlrpc.client.ResponseError)):
            self.close()
            return XapiFailure("MALFORMED_RESPONSE", [method, str(exc)])
        if isinstance(exc, (http.client.HTTPException, OSError)):
            self.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            return XapiUnreachable(self.url, reason)
        return None


def url_for(address):
    """The XAPI URL of a host address: `addr`, `addr:port`, an IPv6 literal (bracketed here)
    or a full URL; port 80 unless given, as XAPI clients assume."""
    if "://" in address:
        return address if address.endswith("/") else address + "/"
    if address.count(":") >= 2 and not address.startswith("["):
        address = "[%s]" % address   # host:port has one colon, an IPv6 literal at least two
    return "http://%s/" % address


def open_session(url, user, password, timeout=DEFAULT_TIMEOUT, source_address=None):
    """Log in to exactly this URL (no redirect): for probes and talking to other hosts."""
    session = XapiSession(url_for(url), timeout, source_address)
    try:
        session.login(user, password)
    except XapiError:
        session.close()
        raise
    return session


def load_credentials(root=None):
    """(user, password) this host's tools log in with; XapiCredentialsMissing when none."""
    path = paths.under(root, CREDENTIALS_FILE)
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            user, password = data["user"], data["password"]
        except (OSError, ValueError, KeyError, TypeError):
            raise XapiCredentialsMissing("%s is unreadable or lacks user/password" % path) from None
        return str(user), str(password)
    simulated = _simulated_pool_password(root)
    if simulated is not None:
        return "root", simulated
    raise XapiCredentialsMissing(
        'no XAPI credentials for this host: create %s (mode 0600) with {"user": "root", "password": "..."}'
        % path)


def _simulated_pool_password(root):
    """A simulated host finds its pool's password in pool.json above its root."""
    if not os.path.exists(paths.under(root, paths.SIM_HOST_FILE)):
        return None
    here = paths.resolve_root(root)
    for _ in range(4):
        here = os.path.dirname(here)
        candidate = os.path.join(here, "pool.json")
        if os.path.exists(candidate):
            try:
                with open(candidate, encoding="utf-8") as handle:
                    password = json.load(handle).get("password")
            except (OSError, ValueError, AttributeError):
                return None
            return None if password is None else str(password)
    return None


def local_source_address(root=None):
    """The address this host's outgoing connections come from (None: the kernel decides)."""
    try:
        from halizard.platform import get_platform
    except ImportError:
        get_platform = None
    if get_platform is not None:
        try:
            return get_platform(root).source_address()
        except Exception:  # noqa: BLE001 - a platform that cannot say leaves the choice to the kernel
            pass
    sim_file = paths.under(root, paths.SIM_HOST_FILE)
    try:
        with open(sim_file, encoding="utf-8") as handle:
            return json.load(handle).get("address")
    except (OSError, ValueError, AttributeError):
        return None


def master_address(root=None):
    """Where this host believes the master is: itself, or pool.conf's `slave:<addr>`."""
    role, address = hostinfo.read_pool_conf(root)
    if role == "master":
        return local_source_address(root) or "127.0.0.1"
    return address


def connect(root=None, timeout=None):
    """A logged-in session to the pool master, as this host sees it.

    Follows one `HOST_IS_SLAVE [addr]` redirect (pool.conf may lag behind a
    promotion). The whole login takes at most about twice `timeout`.
    """
    if timeout is None:
        timeout = _configured_timeout(root)
    user, password = load_credentials(root)
    source = local_source_address(root)
    try:
        address = master_address(root)
    except hostinfo.HostInfoError as exc:
        raise XapiUnreachable("(unknown master)", str(exc)) from None
    deadline = time.monotonic() + 2 * float(timeout)
    try:
        return open_session(address, user, password, timeout, source)
    except XapiFailure as exc:
        if exc.code != "HOST_IS_SLAVE" or not exc.params:
            raise
        redirect = exc.params[0]
    remaining = max(0.5, min(float(timeout), deadline - time.monotonic()))
    return open_session(redirect, user, password, remaining, source)


def _configured_timeout(root):
    """XE_TIMEOUT as known locally (override file, cached pool copy, default)."""
    try:
        from halizard.config.effective import local_xe_timeout
    except ImportError:
        return DEFAULT_TIMEOUT
    return local_xe_timeout(root)
