"""A real SMTP server on loopback (aiosmtpd) for the alert tests: AUTH, STARTTLS, implicit TLS.

It records every accepted message so tests read back exactly what arrived.
"""
import asyncio
import email
import email.policy
import os
import ssl
import subprocess
import threading

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"
# Port 465 means implicit TLS, so one test binds it for real, on its own loopback address.
IMPLICIT_HOSTS = ["127.46.5.%d" % n for n in range(1, 6)]
USER = "alerts"
PASSWORD = "s3cret-Pa55"


def mail_config(server, **extra):
    """The configuration values an alert needs to reach `server` (a plain dict works as config)."""
    values = {
        "SMTP_SERVER": server.host, "SMTP_PORT": str(server.port), "SMTP_USER": USER, "SMTP_PASS": PASSWORD,
        "MAIL_FROM": "ha@localhost", "MAIL_TO": "admin@localhost", "MAIL_ON": "1", "ENABLE_ALERTS": "1",
    }
    values.update(extra)
    return values


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 (IP SAN) made with the openssl tool."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=" + ",".join("IP:" + ip for ip in [HOST] + IMPLICIT_HOSTS)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
    )
    return cert, key


class _Recorder:
    def __init__(self, server):
        self.server = server

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        if address in self.server.refuse:
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content,
                                          policy=email.policy.default)
        self.server.received.append({
            "mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
            "raw": envelope.original_content or envelope.content, "message": parsed,
            "tls": smtp.transport.get_extra_info("ssl_object") is not None, "auth": session.auth_data,
        })
        return "250 Message accepted for delivery"


class SmtpServer:
    """mode: "plain" (no TLS), "starttls" (STARTTLS offered) or "implicit" (TLS from the first byte)."""

    def __init__(self, mode="starttls", cert=None, user=None, password=None, port=0, host=HOST, mechanisms=None):
        self.mode = mode
        self.mechanisms = mechanisms  # e.g. ["LOGIN"]: offer only these AUTH mechanisms
        self.host = host
        self.cert = cert
        self.user = user
        self.password = password
        self.requested_port = port
        self.received = []
        self.refuse = set()
        self.echo_credentials = False
        self.port = None
        self._loop = None
        self._server = None
        self._thread = None

    def _context(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self.cert)
        return context

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == self.user and auth_data.password.decode() == self.password)
        if not ok and self.echo_credentials and isinstance(auth_data, LoginPassword):
            # a careless server that quotes what it got back to the client
            return AuthResult(success=False, handled=False, message="535 5.7.8 rejected %s/%s" % (
                auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def _factory(self):
        import warnings

        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        kwargs = {"hostname": "mail.test", "enable_SMTPUTF8": True, "timeout": 30}
        if self.mode == "starttls":
            kwargs["tls_context"] = self._context()
        if self.mechanisms:
            kwargs["auth_exclude_mechanism"] = [m for m in ("PLAIN", "LOGIN") if m not in self.mechanisms]
        if self.user is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=self.mode == "starttls")  # aiosmtpd: implicit TLS is not seen as TLS here
        return SMTP(_Recorder(self), **kwargs)

    def start(self):
        ready = threading.Event()
        failure = []

        def run():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                ssl_context = self._context() if self.mode == "implicit" else None
                self._server = self._loop.run_until_complete(self._loop.create_server(
                    self._factory, host=self.host, port=self.requested_port, ssl=ssl_context, reuse_address=True))
                self.port = self._server.sockets[0].getsockname()[1]
            except Exception as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._server.close()
            self._loop.run_until_complete(self._server.wait_closed())
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("SMTP test server did not start")
        if failure:
            raise failure[0]
        return self

    def stop(self):
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
