"""A small XenAPI JSON-RPC client written from xapi's documentation only.

Source: xen-api `doc/content/xen-api/wire-protocol.md` ("JSON-RPC Protocol"):
POST a JSON object to `/jsonrpc` with `method`, `params` (the session ref
first) and a non-null `id` (plus `"jsonrpc": "2.0"` for 2.0); a 1.0 answer
has `result` and `error` (the error code and its parameters as one list), a
2.0 answer `result` or `error` (`{"code", "message": CODE, "data": [params]}`).
A slave answers a login with HOST_IS_SLAVE naming its master: log in there.
Independent of the simulator's own code on purpose.
"""
import http.client
import itertools
import json


class Failure(Exception):
    """A XAPI error: details = [code, parameters...]."""

    def __init__(self, details):
        Exception.__init__(self, details)
        self.details = list(details)


class JsonRpcSession(object):
    """One logged-in session over one kept-alive HTTP connection."""

    def __init__(self, address, version="2.0", timeout=10.0):
        self.address = address
        self.version = version
        self.timeout = timeout
        self.handle = None
        self._ids = itertools.count(1)
        self._connection = None

    def request(self, method, params):
        """The raw call: the result, or Failure with the error's code and parameters."""
        body = {"method": method, "params": list(params), "id": next(self._ids)}
        if self.version == "2.0":
            body["jsonrpc"] = "2.0"
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self.address, 80, timeout=self.timeout)
        self._connection.request("POST", "/jsonrpc", body=json.dumps(body).encode("utf-8"),
                                 headers={"Content-Type": "application/json"})
        response = self._connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise http.client.HTTPException("HTTP %d: %s" % (response.status, payload[:200]))
        answer = json.loads(payload.decode("utf-8"))
        if answer.get("id") != body["id"]:
            raise ValueError("answer to another request: %r" % answer.get("id"))
        error = answer.get("error")
        if self.version == "2.0" and error is not None:
            raise Failure([error["message"]] + list(error.get("data") or []))
        if self.version == "1.0" and error is not None:
            raise Failure(error)
        return answer["result"]

    def login(self, user, password):
        """Log in here, or at the master this host names (HOST_IS_SLAVE)."""
        try:
            self.handle = self.request("session.login_with_password", [user, password, "2.0", "jsonrpc-test"])
        except Failure as failure:
            if failure.details[0] != "HOST_IS_SLAVE":
                raise
            self.close()
            self.address = failure.details[1]
            self.handle = self.request("session.login_with_password", [user, password, "2.0", "jsonrpc-test"])
        return self

    def call(self, method, *args):
        """A call on this session (the session ref goes first)."""
        return self.request(method, [self.handle] + list(args))

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None
