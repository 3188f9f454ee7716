"""Fixtures of the RPM tests: the RPM built once per session, unpacked into a scratch root."""
import pytest

import rpmroot


@pytest.fixture(scope="session")
def built_rpm():
    return rpmroot.build()


@pytest.fixture(scope="session")
def installed(built_rpm, tmp_path_factory):
    """The scratch root holding the RPM's files (usr/bin/ha-cfg, opt/ha-lizard/...)."""
    return rpmroot.unpack(built_rpm, str(tmp_path_factory.mktemp("rpmroot")))
