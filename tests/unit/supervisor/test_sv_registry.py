"""Job registry: production jobs plus the test-only HALIZARD_JOBS file."""
import json

import pytest

from halizard.supervisor.registry import ENV_JOBS, JobSpec, RegistryError, load_jobs


def _env(tmp_path, document):
    path = tmp_path / "jobs.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return {ENV_JOBS: str(path)}


def test_production_jobs_without_the_variable():
    jobs = load_jobs({})
    assert jobs["pool_state"].target == "halizard.jobs.pool_state:run"


def test_file_adds_or_replaces(tmp_path):
    added = load_jobs(_env(tmp_path, {"jobs": {"t": {"target": "m:f", "period": 1}}}))
    assert set(added) >= {"pool_state", "t"} and added["t"].period == 1.0
    replaced = load_jobs(_env(tmp_path, {"replace": True, "jobs": {"t": "m:f"}}))
    assert list(replaced) == ["t"] and replaced["t"] == JobSpec("t", "m:f")


@pytest.mark.parametrize("document,message", [
    ("{nope", "not valid JSON"),
    ({"jobs": {"t": {"target": "no colon"}}}, "target must look like"),
    ({"jobs": {"t": {"target": "m:f", "period": -1}}}, "period must be a number"),
    ({"jobs": {"t": {"target": "m:f", "deadline": True}}}, "deadline must be a number"),
    ({"jobs": {"t": {"target": "m:f", "every": 3}}}, "unknown keys every"),
    ({"jobs": {"bad name": "m:f"}}, "invalid job name"),
    ({"jobs": ["m:f"]}, "'jobs' must be an object"),
    ([], "expected an object"),
])
def test_bad_files_are_one_line_errors(tmp_path, document, message):
    with pytest.raises(RegistryError, match=message):
        load_jobs(_env(tmp_path, document))


def test_missing_file(tmp_path):
    with pytest.raises(RegistryError, match="No such file"):
        load_jobs({ENV_JOBS: str(tmp_path / "absent.json")})
