"""A tiny real XML-RPC "xapi" on loopback whose answer each test chooses."""
import http.server
import socket
import socketserver
import threading
import xmlrpc.client

import pytest


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_POST(self):
        size = int(self.headers.get("Content-Length", "0"))
        params, method = xmlrpc.client.loads(self.rfile.read(size))
        self.server.calls.append(method)
        self.server.params.append(params)
        mode = self.server.mode
        if mode == "hang":
            self.server.release.wait(30)
            return
        if mode == "garbage":
            body = b"<html>403 Forbidden</html>"
        else:
            if method == "session.logout":
                answer = {"Status": "Success", "Value": ""}
            elif mode == "master":
                answer = {"Status": "Success", "Value": "OpaqueRef:abc"}
            elif mode == "slave":
                answer = {"Status": "Failure", "ErrorDescription": ["HOST_IS_SLAVE", "127.0.0.1"]}
            elif mode == "booting":
                answer = {"Status": "Failure", "ErrorDescription": ["HOST_STILL_BOOTING"]}
            else:  # "refuse": a master refusing the probe's empty password
                answer = {"Status": "Failure", "ErrorDescription": ["SESSION_AUTHENTICATION_FAILED", "root"]}
            body = xmlrpc.client.dumps((answer,), methodresponse=True).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FakeXapi(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, mode):
        self.mode = mode
        self.calls = []
        self.params = []
        self.release = threading.Event()
        http.server.HTTPServer.__init__(self, ("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.server_address[1]

    def stop(self):
        self.release.set()
        self.shutdown()
        self.server_close()


@pytest.fixture
def fake_xapi():
    servers = []

    def make(mode):
        server = FakeXapi(mode)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
