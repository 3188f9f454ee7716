"""Logging: syslog datagrams tagged ha-lizard, switches honoured, no locals in tracebacks."""
import os
import socket

import pytest
from loguru import logger

from halizard.supervisor.logsetup import setup_logging
from halizard.config.settings import Settings


@pytest.fixture
def syslog(tmp_path):
    path = str(tmp_path / "log.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.5)
    yield path, sock
    sock.close()
    logger.remove()


def _drain(sock):
    lines = []
    while True:
        try:
            lines.append(sock.recv(65536).decode("utf-8", "replace"))
        except socket.timeout:
            return lines


def test_lines_are_tagged_and_say_the_function(syslog):
    path, sock = syslog
    setup_logging(None, syslog_address=path)
    logger.bind(function="check_xapi").info("master answers")
    lines = _drain(sock)
    assert len(lines) == 1
    assert "ha-lizard[%d]: check_xapi: master answers" % os.getpid() in lines[0]
    assert lines[0].startswith("<")


def test_enable_logging_zero_silences_everything(syslog):
    path, sock = syslog
    setup_logging(Settings(overrides={"ENABLE_LOGGING": "0"}), syslog_address=path)
    logger.bind(function="x").warning("hidden")
    assert _drain(sock) == []


def test_log_function_switch(syslog):
    path, sock = syslog
    setup_logging(Settings(overrides={"LOG_noisy": "0"}), syslog_address=path)
    logger.bind(function="noisy").info("hidden")
    logger.bind(function="quiet").info("shown")
    lines = _drain(sock)
    assert len(lines) == 1 and "quiet: shown" in lines[0]


def test_tracebacks_never_show_local_values(tmp_path):
    log_file = tmp_path / "out.log"
    setup_logging(None, syslog_address=str(tmp_path / "absent"), extra_sink=str(log_file))

    def connect():
        password = "hunter2-secret"  # noqa: F841 - the value must not reach the log
        raise ValueError("login failed")

    try:
        connect()
    except ValueError:
        logger.bind(function="fence").opt(exception=True).error("fencing failed")
    logger.remove()
    text = log_file.read_text()
    assert "fencing failed" in text and "ValueError: login failed" in text
    assert "hunter2-secret" not in text


def test_the_same_sinks_are_kept_and_follow_the_new_configuration(syslog):
    # a job run forked from the forkserver finds the sinks set up there: it keeps them (no remove/add per
    # run), only the configuration its filter reads and the syslog tag's pid change
    from halizard.supervisor import logsetup

    path, sock = syslog
    first = setup_logging(Settings(overrides={"LOG_noisy": "0"}), syslog_address=path)
    logsetup._SINKS["handler"].ident = "stale[1]: "   # as a forked run inherits it: the parent's pid
    again = setup_logging(Settings(overrides={"LOG_quiet": "0"}), syslog_address=path)
    assert again == first
    logger.bind(function="noisy").info("shown now")
    logger.bind(function="quiet").info("hidden now")
    lines = _drain(sock)
    assert len(lines) == 1 and "ha-lizard[%d]: noisy: shown now" % os.getpid() in lines[0], lines


def test_sinks_are_built_again_when_removed_or_asked_differently(syslog, tmp_path):
    path, sock = syslog
    first = setup_logging(None, syslog_address=path)
    logger.remove()   # someone else dropped them: they are not kept blindly
    second = setup_logging(None, syslog_address=path)
    assert set(second).isdisjoint(first)
    third = setup_logging(None, syslog_address=path, extra_sink=str(tmp_path / "more.log"))
    assert set(third).isdisjoint(second) and len(third) == 2
    logger.bind(function="x").info("once")
    assert len(_drain(sock)) == 1
