"""Reuse the probes' loopback fixtures (fake xapi, closed port) for fencing tests."""
import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "halizard_probe_fixtures", os.path.join(os.path.dirname(__file__), "..", "probes", "conftest.py"))
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

fake_xapi = _fixtures.fake_xapi
closed_port = _fixtures.closed_port
