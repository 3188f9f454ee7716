"""Fixtures of the RPM tests: the RPM built once per session, unpacked into a scratch root."""
import os

import pytest
from filelock import FileLock

import rpmroot

# The RPM build (about a minute, more on a loaded machine) happens in the setup of whichever test needs
# it first, and with xdist the other workers wait for it there: it counts against that test's timeout
# though it is not what the test proves. Tests that use the RPM get this much more time.
BUILD_ALLOWANCE = 240


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "built_rpm" in getattr(item, "fixturenames", ()) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(float(config.getini("timeout") or 0) + BUILD_ALLOWANCE))


@pytest.fixture(scope="session")
def built_rpm(tmp_path_factory, request):
    """Built once for the whole run: under pytest-xdist the workers share one build (they would race
    on build/ and dist/), the first one builds, the others wait on the lock and reuse its RPM."""
    if not hasattr(request.config, "workerinput"):  # not an xdist worker: this process is the run
        return rpmroot.build()
    shared = str(tmp_path_factory.getbasetemp().parent)  # this run's pytest-N, common to its workers
    with FileLock(os.path.join(shared, "rpm-build.lock")):
        marker = os.path.join(shared, "rpm-build.path")
        if os.path.isfile(marker):
            with open(marker, encoding="utf-8") as handle:
                path = handle.read()
            if os.path.isfile(path):
                return path
        path = rpmroot.build()
        with open(marker, "w", encoding="utf-8") as handle:
            handle.write(path)
        return path


@pytest.fixture(scope="session")
def installed(built_rpm, tmp_path_factory):
    """The scratch root holding the RPM's files (usr/bin/ha-cfg, opt/ha-lizard/...)."""
    return rpmroot.unpack(built_rpm, str(tmp_path_factory.mktemp("rpmroot")))
