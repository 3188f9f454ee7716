"""Supervisor settings: explicit values, effective config, defaults; the override-file fallback parser."""
from halizard.config.settings import OverrideFileConfig, Settings, load_settings


def _override(root, text):
    path = root / "etc" / "ha-lizard"
    path.mkdir(parents=True)
    (path / "ha-lizard.conf").write_text(text)


def test_fallback_parser_reads_bash_like_lines(tmp_path):
    _override(tmp_path, "# comment\nMONITOR_DELAY=30\nexport MONITOR_SCANRATE='5'\n"
                        "MAIL_TO=\"a@localhost\" # trailing\n#MONITOR_KILLALL=0\nbroken line\n")
    config = OverrideFileConfig(str(tmp_path))
    assert config.values == {"MONITOR_DELAY": "30", "MONITOR_SCANRATE": "5", "MAIL_TO": "a@localhost"}


def test_load_settings_reads_the_override_file(tmp_path):
    _override(tmp_path, "MONITOR_DELAY=30\nMONITOR_KILLALL=0\n")
    settings = load_settings(str(tmp_path))
    assert settings.number("MONITOR_DELAY") == 30
    assert settings.flag("MONITOR_KILLALL") is False
    assert settings.number("MONITOR_SCANRATE") == 10


def test_explicit_values_win(tmp_path):
    _override(tmp_path, "MONITOR_DELAY=30\n")
    settings = load_settings(str(tmp_path), {"MONITOR_DELAY": "0.5"})
    assert settings.number("MONITOR_DELAY") == 0.5


def test_function_switches():
    settings = Settings(overrides={"LOG_monitor": "0"})
    assert settings.function_enabled("LOG", "monitor") is False
    assert settings.function_enabled("LOG", "other") is True


def test_unknown_names_fall_back_to_the_given_default():
    assert Settings().get("PRIORITY_monitor", 3) == 3


def test_typed_values_from_the_effective_config():
    from halizard.config.effective import build_effective

    settings = Settings(build_effective({"HA_MONITOR_KILLALL": "0", "HA_MONITOR_DELAY": "45"}, {}, "h"))
    assert settings.flag("MONITOR_KILLALL") is False and settings.number("MONITOR_DELAY") == 45
    assert Settings(overrides={"MONITOR_KILLALL": True}).flag("MONITOR_KILLALL") is True
    assert settings.xc_field_key.endswith("ha-lizard-enabled")   # passed through to the config


def test_job_settings_never_touch_the_network(tmp_path):
    """live=False: cached pool values + override file, even with a pool.conf naming an unreachable master."""
    import json
    import time

    conf = tmp_path / "etc" / "xensource"
    conf.mkdir(parents=True)
    (conf / "pool.conf").write_text("slave:127.0.0.1")  # a live read would try this master
    state = tmp_path / "var" / "lib" / "ha-lizard"
    state.mkdir(parents=True)
    (state / "pool-config.json").write_text(json.dumps({"pool_uuid": "p", "other_config": {"HA_MONITOR_DELAY": "45"}}))
    began = time.monotonic()
    settings = load_settings(str(tmp_path))
    assert time.monotonic() - began < 2.0
    assert settings.number("MONITOR_DELAY") == 45
    assert settings.pool_status == "given"
