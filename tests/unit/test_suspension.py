"""Every suspension flag counts for is_suspended; the takeover asks its own; a false document or no flag does not."""
import json
import os

import pytest

from halizard import paths
from halizard.statefiles import StateStore
from halizard.suspension import SUSPENSION_FILES, TAKEOVER_FLAG, is_suspended, takeover_suspended


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


@pytest.mark.parametrize("name", SUSPENSION_FILES)
def test_the_takeover_asks_only_its_own_flag_and_the_vm_jobs_every_flag(tmp_path, name):
    store = StateStore(str(tmp_path))
    store.write(name, {"suspended": True, "why": "test"})
    assert is_suspended(str(tmp_path))
    assert takeover_suspended(store) is (name == TAKEOVER_FLAG)


def test_takeover_suspend_and_clear_go_through_the_same_reader(tmp_path):
    from halizard.jobs import takeover

    store = StateStore(str(tmp_path))
    takeover.suspend(store, "fence failed", now=1.0)
    assert takeover_suspended(store) and is_suspended(str(tmp_path))
    takeover.clear_suspension(store)
    assert not takeover_suspended(store) and not is_suspended(str(tmp_path))
