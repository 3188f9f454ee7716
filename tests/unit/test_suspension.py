"""Every suspension flag counts; a false document or no flag does not."""
import json
import os

import pytest

from halizard import paths
from halizard.suspension import SUSPENSION_FILES, is_suspended


def state_dir(root):
    folder = paths.under(str(root), paths.STATE_DIR)
    os.makedirs(folder, exist_ok=True)
    return folder


def test_no_flag_is_not_suspended(tmp_path):
    state_dir(tmp_path)
    assert not is_suspended(str(tmp_path))


@pytest.mark.parametrize("name", SUSPENSION_FILES)
def test_a_plain_flag_file_suspends(tmp_path, name):
    open(os.path.join(state_dir(tmp_path), name), "w").close()
    assert is_suspended(str(tmp_path))


@pytest.mark.parametrize("document, expected", [
    ({"suspended": True, "why": "fence failed"}, True),
    ({"suspended": False}, False),
    (True, True),
    (False, False),
])
def test_a_state_document_says_whether(tmp_path, document, expected):
    with open(os.path.join(state_dir(tmp_path), "suspended.json"), "w") as handle:
        json.dump(document, handle)
    assert is_suspended(str(tmp_path)) is expected


def test_a_corrupt_document_is_ignored(tmp_path):
    with open(os.path.join(state_dir(tmp_path), "ha-suspended.json"), "w") as handle:
        handle.write("{not json")
    assert not is_suspended(str(tmp_path))
