"""The simulator's own errors: a bad fault or platform request, a xapi that is not answering.

Why: its own module so that every part of the pool (wire, roles, faults,
hosts) and the servers in front of it raise and catch the same classes.
"""


class SimUsageError(ValueError):
    """Bad fault or platform request (unknown action, host or VM name)."""


class XapiUnavailable(Exception):
    """The host's xapi does not answer right now: state is 'down' or 'hung'.

    server.py should treat the request as it treats that state (refuse the
    connection / never answer); handle() raises this only when the state
    changed between the server's check and the call.
    """

    def __init__(self, state):
        Exception.__init__(self, state)
        self.state = state
