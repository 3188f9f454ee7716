import os

import pytest

from sv_helpers import Service


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "host"
    path.mkdir()
    return str(path)


@pytest.fixture
def service(root):
    """Factory: service(jobs_table, ...) starts a real supervisor; all are stopped afterwards."""
    started = []

    def start(jobs_table, wait=True, root=root, **kw):
        svc = Service(root, jobs_table, **kw)
        started.append(svc)
        return svc.start(wait=wait)

    yield start
    for svc in started:
        try:
            svc.stop()
        except AssertionError:
            pass
        if svc.proc is not None:
            try:
                os.killpg(svc.proc.pid, 9)
            except ProcessLookupError:
                pass
