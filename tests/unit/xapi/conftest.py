"""Fixtures of the session-layer tests (the server itself is in xapi_loopback.py)."""
import pytest
from xapi_loopback import ScriptedServer


@pytest.fixture
def scripted_server():
    """scripted_server(answer) -> a running ScriptedServer, stopped after the test."""
    servers = []

    def start(answer):
        server = ScriptedServer(answer)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
