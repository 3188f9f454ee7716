"""The configuration in force on this host, with the pool's part read live through XAPI.

Why here: reading the pool's other_config needs a session, and the XAPI
client sits a layer above halizard.config (which builds the configuration
from what it is given, and keeps the cached copy for when the master is
silent).
"""
from loguru import logger

from halizard.config import pool_store
from halizard.config.effective import (build_effective, cached_pool, effective_with_pool,
                                       load_override_keeping_last_good, local_hostname, save_pool_cache)
from halizard.xapi.errors import XapiError
from halizard.xapi.session import connect


def load_effective(root=None, pool_other_config=None, cache=True):
    """The configuration in force on the host at `root`.

    With `pool_other_config` given, nothing is read from or written to the
    network or state files for the pool part. Otherwise the pool is read
    through the session layer within XE_TIMEOUT; on success the cache is
    refreshed (when `cache`), on failure the cached copy is used.
    """
    if pool_other_config is not None:
        return effective_with_pool(root, pool_other_config, cache)
    settings, override_error = load_override_keeping_last_good(root, cache)
    hostname = local_hostname(root)
    _uuid, cached = cached_pool(root)
    timeout = build_effective(cached, settings, hostname).get("XE_TIMEOUT")
    try:
        session = connect(root, timeout=timeout)
        try:
            _ref, pool_uuid, other = pool_store.read_other_config(session)
        finally:
            session.logout()
    except (XapiError, LookupError) as exc:
        cached_uuid, cached = cached_pool(root)
        return _said_if_unsafe(build_effective(cached, settings, hostname, override_error=override_error,
                                               pool_status="cache" if cached is not None else "none",
                                               pool_error=str(exc), pool_uuid=cached_uuid))
    if cache:
        try:
            save_pool_cache(root, pool_uuid, other)
        except OSError:
            pass
    return _said_if_unsafe(build_effective(other, settings, hostname, override_error=override_error,
                                           pool_status="live", pool_uuid=pool_uuid))


def _said_if_unsafe(config):
    """The service reads its configuration here: an unsafe one is logged, with the reason, as it loads."""
    if config.unsafe:
        logger.bind(function="check_ha_enabled").error("unsafe configuration, HA will not act: {}",
                                                       config.unsafe)
    return config
