"""FENCE_METHOD -> agent, settings from configuration, POOL's honest non-proof."""
import os

import pytest

from halizard.fence import registry
from halizard.fence.base import UNPROVEN, FenceAgent, FenceConfigError, FenceResult, FenceSettings
from halizard.fence.pool import PoolAgent
from halizard.fence.xvm import XvmAgent
from halizard.probes.deadline import after

HOST = "11111111-2222-3333-4444-555555555555"


class Config(dict):
    """Anything with .get(NAME) is a configuration for settings_from_config."""


def test_pool_agent_never_verifies():
    agent = registry.create_agent(FenceSettings(method="POOL", file_loc="/nonexistent"))
    assert isinstance(agent, PoolAgent) and agent.proves_death is False
    for action in ("stop", "start", "reset"):
        result = agent.fence(HOST, action, after(1))
        assert not result.verified and result.state == UNPROVEN
    assert not agent.status(HOST, after(1)).verified


def test_builtin_names_are_case_insensitive():
    assert isinstance(registry.create_agent(FenceSettings(method="pool", file_loc="/x")), PoolAgent)
    agent = registry.create_agent(FenceSettings(method="XVM", file_loc="/x", ip_address="127.0.0.1"))
    assert isinstance(agent, XvmAgent) and agent.proves_death


def test_xvm_without_address_is_a_config_error():
    with pytest.raises(FenceConfigError, match="FENCE_IPADDRESS"):
        registry.create_agent(FenceSettings(method="XVM", file_loc="/x"))


def test_ilo_and_clusterlabs_slots_report_unavailable_until_implemented():
    for method in ("ILO", "IRMC", "fence_ipmilan"):
        try:
            registry.factory_for(method)
        except FenceConfigError as exc:
            assert "not available" in str(exc)


def test_bad_action_and_empty_method():
    with pytest.raises(FenceConfigError, match="invalid fence action"):
        registry.create_agent(FenceSettings(method="POOL", file_loc="/x", action="explode"))
    with pytest.raises(FenceConfigError, match="empty"):
        registry.factory_for("")


def test_registered_factories_and_prefixes_win():
    class Recorder(FenceAgent):
        def fence(self, host_uuid, action, deadline):
            return FenceResult.proven("off", "recorded %s %s" % (host_uuid, action))

    registry.register("TESTREC", Recorder)
    registry.register_prefix("testpfx_", Recorder)
    try:
        agent = registry.create_agent(FenceSettings(method="testrec", file_loc="/x"))
        assert agent.fence(HOST, "stop", after(1)).detail == "recorded %s stop" % HOST
        assert isinstance(registry.create_agent(FenceSettings(method="testpfx_thing", file_loc="/x")), Recorder)
    finally:
        registry._factories.pop("TESTREC")
        registry._prefix_factories.pop("testpfx_")


def test_settings_from_config_roots_paths_and_strips_quotes(tmp_path):
    config = Config(FENCE_METHOD="'XVM'", FENCE_FILE_LOC="/etc/ha-lizard/fence", FENCE_ACTION="reset",
                    FENCE_IPADDRESS="127.0.0.5", FENCE_PASSWD='"pw with quotes"')
    settings = registry.settings_from_config(config, root=str(tmp_path))
    assert settings.method == "XVM" and settings.action == "reset"
    assert settings.file_loc == os.path.join(str(tmp_path), "etc/ha-lizard/fence")
    assert settings.password == "pw with quotes"
    assert "pw with quotes" not in repr(settings) and "pw with quotes" not in str(settings)


def test_settings_defaults_and_bad_action(tmp_path):
    settings = registry.settings_from_config(Config(), root=str(tmp_path))
    assert (settings.method, settings.action) == ("POOL", "stop")
    with pytest.raises(FenceConfigError):
        registry.settings_from_config(Config(FENCE_ACTION="halt"), root=str(tmp_path))


def test_custom_name_with_path_trick_is_refused(tmp_path):
    with pytest.raises(FenceConfigError, match="invalid custom fence agent name"):
        registry.create_agent(FenceSettings(method="../../bin/true", file_loc=str(tmp_path)))


def test_settings_from_the_real_effective_configuration(tmp_path):
    from halizard.config.effective import build_effective

    config = build_effective({"HA_FENCE_METHOD": "XVM", "HA_FENCE_IPADDRESS": "127.0.0.9",
                              "HA_FENCE_PASSWD": "pw-123", "HA_FENCE_ACTION": "reset"})
    agent = registry.agent_from_config(config, root=str(tmp_path))
    assert isinstance(agent, XvmAgent)
    assert agent.settings.action == "reset" and agent.settings.password == "pw-123"
    assert agent.map_path == os.path.join(str(tmp_path), "etc/ha-lizard/fence/XVM/XVM.hosts")
    defaults = registry.settings_from_config(build_effective({}), root=str(tmp_path))
    assert (defaults.method, defaults.action, defaults.password) == ("POOL", "stop", "")
