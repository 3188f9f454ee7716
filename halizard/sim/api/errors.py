"""XAPI failures as Python exceptions, turned into ErrorDescription lists.

Why: semantics code raises `XapiError("VM_BAD_POWER_STATE", vm, "halted",
"running")`; the dispatcher answers `{"Status": "Failure", ...}` with exactly
that list, every parameter as a string as on the wire.
"""


class XapiError(Exception):
    """A failure the real XAPI would answer with this ErrorDescription."""

    def __init__(self, code, *params):
        self.description = [code] + [str(p) for p in params]
        Exception.__init__(self, " ".join(self.description))


def handle_invalid(cls, ref):
    return XapiError("HANDLE_INVALID", cls, ref)
