"""XAPI sessions that never hang: a deadline on every call, typed errors, this host's xapi
reached through its Unix socket.

Why: the XenAPI package has no call timeout, so a dead master would block a
caller forever (behaviour.md section 6). Every connection made here carries a
socket deadline (halizard.xapi.transport) and may be bound to a source
address (a simulated host's own loopback address, so network partitions
apply to its tools too).

No password on disk: on its own host ha-lizard logs in to the local xapi
through its Unix socket `<root>/var/lib/xcp/xapi` as local root, which xapi
trusts without a password (its "preauth" of that socket). On a slave, xapi
forwards every call but the logins and emergency calls arriving there to
the master over the pool's own TLS link (halizard/sim/INTERFACE.md, "The
local socket"), so `connect()` reaches the master from any host. The only
session opened with a password over the network is XVM fencing's, to the
outer dom0, over HTTPS (halizard.fence.xvm); the password is held only in
memory and never appears in a message, log line or exception.
"""
import errno
import http.client
import os
import socket
import threading
import time
import xmlrpc.client
from xml.parsers.expat import ExpatError

import XenAPI

from halizard import paths
from halizard.config.effective import local_xe_timeout
from halizard.xapi.errors import (
    XapiError,
    XapiFailure,
    XapiTimeout,
    XapiUnreachable,
)
from halizard.xapi.transport import DeadlineTransport, MalformedResponse  # noqa: F401 - MalformedResponse re-exported

LOCAL_SOCKET = "/var/lib/xcp/xapi"
LOCAL_USER = "root"
DEFAULT_TIMEOUT = 10.0
ORIGINATOR = "ha-lizard"


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

    def __init__(self, url, timeout=DEFAULT_TIMEOUT, source_address=None, unix_path=None):
        if timeout is None or float(timeout) <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        # A Unix-socket session is named by its socket path (in messages too).
        self.url = unix_path or url
        self.timeout = float(timeout)
        self.source_address = source_address
        self.unix_path = unix_path
        self.logged_in = False
        self._lock = threading.Lock()
        self._local = threading.local()
        self._transports = []
        self._shared = {"handle": None, "method": None, "params": None}
        self._adopted = None   # the service's login this session uses without owning it (adopt)

    def __repr__(self):
        return "<XapiSession %s>" % self.url

    def _proxy(self):
        """This thread's XenAPI proxy, carrying the shared session handle."""
        proxy = getattr(self._local, "proxy", None)
        if proxy is None:
            transport = DeadlineTransport(self.timeout, self.source_address,
                                          use_tls=self.url.lower().startswith("https:"),
                                          unix_path=self.unix_path)
            proxy = XenAPI.Session("http://localhost/" if self.unix_path else self.url, transport=transport)
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
                if self._adopted is not None:
                    _inherited_proved_stale(self.unix_path, self._adopted)

    def adopt(self, handle):
        """Use the service's login (halizard.xapi.shared_login) instead of logging in: no login call,
        and logout() leaves it alone. Should xapi answer SESSION_INVALID (a new master, a restarted
        xapi), XenAPI logs in again as local root within the same call's deadline; logout() then ends
        that login of this session's own."""
        with self._lock:
            self._shared = {"handle": handle, "method": "login_with_password",
                            "params": (LOCAL_USER, "", "1.0", ORIGINATOR)}
            self._adopted = handle
        self.logged_in = True
        return self

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
        if self._adopted is not None and self._shared["handle"] == self._adopted:
            with self._lock:   # the service's login: not ours to end
                self._shared = {"handle": None, "method": None, "params": None}
            self.close(all_threads=True)
            return
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


RESET_REASONS = (os.strerror(errno.ECONNRESET), os.strerror(errno.EPIPE), "RemoteDisconnected")


class ReadRetrySession(XapiSession):
    """A session whose logins and reads are tried once more after the peer dropped the connection.

    Why: right after a takeover the new master's xapi (or the local one, as it
    re-targets its forwarding) may reset a connection once; a reader should not
    fail on that. Only calls that change nothing (`session.login*`, `*.get_*`)
    are repeated, within what is left of their deadline: a write may have been
    applied before the reset, so it is sent once, as DeadlineTransport does.
    """

    def login(self, user, password, timeout=None):
        return self._once_more(lambda left: XapiSession.login(self, user, password, timeout=left), timeout)

    def call(self, method, *args, timeout=None):
        if not method.rpartition(".")[2].startswith("get_"):
            return XapiSession.call(self, method, *args, timeout=timeout)
        return self._once_more(lambda left: XapiSession.call(self, method, *args, timeout=left), timeout)

    def _once_more(self, attempt, timeout):
        seconds = self.timeout if timeout is None else float(timeout)
        deadline = time.monotonic() + seconds
        try:
            return attempt(seconds)
        except XapiUnreachable as exc:
            left = deadline - time.monotonic()
            if exc.reason not in RESET_REASONS or left <= 0:
                raise
            return attempt(left)


def url_for(address, scheme="http"):
    """The XAPI URL of a host address: `addr`, `addr:port`, an IPv6 literal (bracketed here)
    or a full URL; port 80 (http) or 443 (https) unless given, as XAPI clients assume."""
    if "://" in address:
        return address if address.endswith("/") else address + "/"
    if address.count(":") >= 2 and not address.startswith("["):
        address = "[%s]" % address   # host:port has one colon, an IPv6 literal at least two
    return "%s://%s/" % (scheme, address)


def open_session(url, user, password, timeout=DEFAULT_TIMEOUT, source_address=None):
    """Log in to exactly this URL (no redirect) with a password: a session with another xapi.

    The product opens one only to the outer dom0 of XVM fencing, over HTTPS
    (halizard.fence.xvm); its own host is reached by `local_session`.
    """
    session = XapiSession(url_for(url), timeout, source_address)
    try:
        session.login(user, password)
    except XapiError:
        session.close()
        raise
    return session


def local_socket_path(root=None):
    """Where this host's xapi listens for local clients (`/var/lib/xcp/xapi` under the root)."""
    return paths.under(root, LOCAL_SOCKET)


def local_session(root=None, timeout=DEFAULT_TIMEOUT, session_class=None):
    """A logged-in session with this host's own xapi, through its Unix socket, as local root.

    xapi trusts that socket (only root on the host can open it) and takes no
    password there. `session_class`: another login (takeover_ops.LocalSession).
    """
    session = (session_class or XapiSession)("http://localhost/", timeout, unix_path=local_socket_path(root))
    try:
        session.login(LOCAL_USER, "")
    except XapiError:
        session.close()
        raise
    return session


def connect(root=None, timeout=None, shared=True):
    """A logged-in session that reaches the pool master, as this host sees it.

    Through this host's own xapi socket: on the master the calls are served
    there; on a slave its xapi forwards them to its master (and a call then
    waits while that master does not answer: the deadline ends it). In a job
    run the service handed its login to (inherit), that login is used
    (`shared`) and this makes no call at all.
    """
    if timeout is None:
        timeout = local_xe_timeout(root)  # override file, cached pool copy, default
    path = local_socket_path(root)
    handle = _INHERITED.get(path) if shared else None
    if handle is not None:
        return XapiSession("http://localhost/", timeout, unix_path=path).adopt(handle)
    return local_session(root, timeout)


# In a job run: the login the service handed it (socket path -> handle), and the handles that proved invalid.
# Why: a login and a logout were half of the calls a slave's jobs made (one of each per session, several
# sessions per run), and on a slave each is a write to the master's database.
_INHERITED = {}
_STALE = set()


def inherit(root, handle):
    """Make `connect(root)` use `handle`, the service's login, in this process (a job run)."""
    _INHERITED[local_socket_path(root)] = handle


def inherited_stale():
    """True when an inherited login proved invalid in this process: the service should log in again."""
    return bool(_STALE)


def _inherited_proved_stale(path, handle):
    """A session that adopted `handle` had to log in again: later sessions of this run log in themselves."""
    if _INHERITED.get(path) == handle:
        del _INHERITED[path]
    _STALE.add(handle)
