"""The library versions the RPM carries satisfy pyproject.toml's ranges, for the Python they are for.

Why: packaging/vendor/*.txt pin what ships, pyproject.toml says what the code
needs; a pin outside its range would ship a library the code was never
tested with. Pure Python only: each pin is a version pip resolved with that
interpreter (packaging/vendor.py builds and imports every tree).
"""
import os
import re

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import rpmroot

LISTS = os.path.join(rpmroot.REPO, "packaging", "vendor")


def pins(name):
    found = {}
    with open(os.path.join(LISTS, name)) as handle:
        for line in handle:
            line = line.split("#")[0].strip()
            if line:
                package, _, version = line.partition("==")
                found[canonicalize_name(package)] = Version(version)
    return found


def project_requirements():
    text = open(os.path.join(rpmroot.REPO, "pyproject.toml")).read()
    block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M).group(1)
    return [Requirement(item) for item in re.findall(r'"([^"]+)"', block)]


def violations(requirements, pinned, python):
    """Requirements in force on `python` that the pins miss or break."""
    environment = {"python_version": python, "python_full_version": python + ".0"}
    problems = []
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append("%s: not pinned" % requirement)
        elif version not in requirement.specifier:
            problems.append("%s: pinned %s" % (requirement, version))
    return problems


@pytest.mark.parametrize("python, listing", [
    ("3.6", "python3.6.txt"),
    ("3.11", "python3.txt"), ("3.13", "python3.txt"),
])
def test_every_requirement_is_pinned_inside_its_range(python, listing):
    assert violations(project_requirements(), pins(listing), python) == []


def test_a_pin_outside_its_range_or_missing_is_caught():
    requirements = [Requirement("filelock>=3.12"), Requirement("dataclasses>=0.8; python_version < '3.7'"),
                    Requirement("XenAPI>=2.14")]
    pinned = {"filelock": Version("3.4.1"), "xenapi": Version("26.21.1")}
    assert violations(requirements, pinned, "3.6") == [
        "filelock>=3.12: pinned 3.4.1", 'dataclasses>=0.8; python_version < "3.7": not pinned']
    assert violations(requirements, pinned, "3.11") == ["filelock>=3.12: pinned 3.4.1"]
