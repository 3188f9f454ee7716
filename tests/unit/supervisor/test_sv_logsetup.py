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
