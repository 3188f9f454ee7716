"""A loopback HTTP server that answers XML-RPC posts as a test scripts it, and counts them.

Why: the session layer's promises (one send per call, a deadline on the whole
exchange, typed errors for junk answers) are about what reaches the wire, so
the tests watch a real socket instead of mocking xmlrpc.
"""
import http.server
import socketserver
import threading
import xmlrpc.client


def success(value):
    """The XML-RPC body XAPI sends for a successful call."""
    return xmlrpc.client.dumps(({"Status": "Success", "Value": value},), methodresponse=True).encode()


class ScriptedServer:
    """Serves on 127.0.0.1; `answer(handler, method, number)` writes each response."""

    def __init__(self, answer):
        self.answer = answer
        self.methods = []
        self.lock = threading.Lock()
        self.release = threading.Event()   # set at teardown: handlers holding a request give up
        self.closed = 0                    # connections the server has closed
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"   # keep-alive, as XAPI does

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                _params, method = xmlrpc.client.loads(body)
                with server.lock:
                    server.methods.append(method)
                    number = len(server.methods)
                server.answer(self, method, number)

            def log_message(self, *_args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

            def shutdown_request(self, request):
                super().shutdown_request(request)
                with server.lock:
                    server.closed += 1

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.httpd.server_address[1]

    def closed_connections(self):
        with self.lock:
            return self.closed

    def count(self, method):
        with self.lock:
            return self.methods.count(method)

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def reply(handler, body, status=200, content_type="text/xml", close=False):
    """Write one complete HTTP response."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    if close:
        handler.send_header("Connection", "close")
        handler.close_connection = True
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()
