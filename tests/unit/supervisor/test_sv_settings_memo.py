"""The local configuration a job run gets is rebuilt only when one of its files changed."""
import os

from halizard.config import cache
from halizard.config.effective import POOL_CACHE
from halizard.config import settings


def _override(root, text):
    path = os.path.join(root, "etc", "ha-lizard", "ha-lizard.conf")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)   # as editors and ha-cfg do: a new file


def test_unchanged_files_reuse_the_built_configuration(tmp_path):
    root = str(tmp_path)
    _override(root, "MONITOR_DELAY=7\n")
    first = settings.load_settings(root)
    second = settings.load_settings(root)
    assert first.base is second.base and second.get("MONITOR_DELAY") == 7


def test_a_changed_override_file_or_pool_cache_is_seen_by_the_next_load(tmp_path):
    root = str(tmp_path)
    _override(root, "MONITOR_DELAY=7\n")
    assert settings.load_settings(root).get("MONITOR_DELAY") == 7
    _override(root, "MONITOR_DELAY=9\n")
    assert settings.load_settings(root).get("MONITOR_DELAY") == 9
    cache.write_json(root, POOL_CACHE, {"pool_uuid": "p", "other_config": {"HA_MONITOR_SCANRATE": "4"}})
    assert settings.load_settings(root).get("MONITOR_SCANRATE") == 4


def test_warming_builds_it_and_never_raises(tmp_path):
    root = str(tmp_path)
    assert settings.warm_local_config(root) is True
    assert settings.warm_local_config(os.path.join(root, "missing", "\0bad")) is False


def test_a_pool_cache_rewritten_with_the_same_content_keeps_the_memo(tmp_path):
    """pool_state rewrites the cache every cycle; the runs in between must not rebuild for that."""
    root = str(tmp_path)
    document = {"pool_uuid": "p", "other_config": {"HA_MONITOR_SCANRATE": "4"}}
    cache.write_json(root, POOL_CACHE, document)
    first = settings.load_settings(root)
    cache.write_json(root, POOL_CACHE, document)
    assert settings.load_settings(root).base is first.base
