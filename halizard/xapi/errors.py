"""Typed XAPI errors: callers decide on the kind of failure, never on text.

Why: a timed-out call is "unknown", an unreachable master is "try the cache",
and a XAPI failure carries a code the caller can act on. Mixing them up is
how an HA manager restarts a VM that still runs somewhere.
"""


class XapiError(Exception):
    """Base class of every error the session layer raises."""


class XapiTimeout(XapiError):
    """The call did not complete within its deadline; its outcome is unknown."""

    def __init__(self, url, seconds, method=None):
        self.url = url
        self.seconds = seconds
        self.method = method
        what = " (%s)" % method if method else ""
        super().__init__("XAPI at %s did not answer within %gs%s" % (url, seconds, what))


class XapiUnreachable(XapiError):
    """No connection could be made, or it was dropped before an answer."""

    def __init__(self, url, reason):
        self.url = url
        self.reason = reason
        super().__init__("XAPI at %s is unreachable: %s" % (url, reason))


class XapiFailure(XapiError):
    """XAPI answered with a Failure: `code` plus its parameters."""

    def __init__(self, code, params=()):
        self.code = str(code)
        self.params = [str(p) for p in params]
        detail = " [%s]" % ", ".join(self.params) if self.params else ""
        super().__init__("XAPI failure %s%s" % (self.code, detail))

