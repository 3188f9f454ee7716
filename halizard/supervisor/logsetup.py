"""Loguru configured for the service: syslog tagged `ha-lizard`, switches honoured, no locals.

Why: every module logs through `logger.bind(function="...")`; this is the one
place deciding where lines go. Syslog (via /dev/log, which journald also
serves) with the ident `ha-lizard`, so `journalctl -t ha-lizard` and
/var/log/messages both see it. `ENABLE_LOGGING=0` silences everything and
`LOG_<function>=0` one function. `backtrace=False, diagnose=False`: a
traceback never shows local variables, so a password in a frame never leaks.
"""
import logging
import logging.handlers
import os
import socket
import sys

from loguru import logger

IDENT = "ha-lizard"
SYSLOG_SOCKET = "/dev/log"
FORMAT = "{extra[function]}: {message}"
STDERR_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} {level} [{process}] {extra[function]}: {message}"

logger.configure(extra={"function": "ha-lizard"})
_STDERR_ACTIVE = False
_SINKS = {}   # what the last setup_logging() set up: key (its arguments), ids, syslog handler, config


def _cache_loguru_lib_dirs():
    """Compute loguru's library directories once per process instead of at every `logger.add`.

    Why: each add() scans every sysconfig scheme (a few ms of CPU), and every
    job run adds its sinks. The directories never change while we run. If
    loguru's internals differ, this does nothing.
    """
    try:
        from loguru import _better_exceptions

        formatter = _better_exceptions.ExceptionFormatter
        dirs = formatter._get_lib_dirs()
    except (ImportError, AttributeError, TypeError):
        return False
    formatter._get_lib_dirs = staticmethod(lambda: list(dirs))
    return True


_cache_loguru_lib_dirs()


def logs_to_stderr():
    """True when the last setup_logging() sends lines to stderr (so callers need not print them too)."""
    return _STDERR_ACTIVE


def _enabled(config, name, default=True):
    if config is None:
        return default
    try:
        value = config.get(name)
    except Exception:
        return default
    if value is None:
        return default
    return str(value).strip().strip("'\"").lower() not in ("0", "false", "no", "")


def make_filter(current):
    """The record filter for ENABLE_LOGGING and the LOG_<function> switches of the configuration
    `current()` returns at each record (setup_logging may swap it without touching the sinks)."""
    def accept(record):
        config = current()
        if not _enabled(config, "ENABLE_LOGGING"):
            return False
        function = record["extra"].get("function", "ha-lizard")
        checker = getattr(config, "function_enabled", None)
        if checker is not None:
            try:
                return bool(checker("LOG", function))
            except Exception:
                return True
        return _enabled(config, "LOG_" + str(function))
    return accept


def _syslog_handler(address):
    """A stdlib SysLogHandler on the local socket, or None when there is no syslog."""
    if not os.path.exists(address):
        return None
    try:
        handler = logging.handlers.SysLogHandler(
            address=address, facility=logging.handlers.SysLogHandler.LOG_DAEMON,
            socktype=socket.SOCK_DGRAM)
    except OSError:
        return None
    handler.ident = "%s[%d]: " % (IDENT, os.getpid())
    return handler


def setup_logging(config=None, stderr=False, syslog_address=SYSLOG_SOCKET, level="INFO", extra_sink=None):
    """(Re)configure loguru for this process; returns the list of sink ids.

    `stderr=True` also writes to stderr (foreground runs, tests). When no syslog
    socket exists and stderr is off, stderr is used anyway so nothing is lost.
    `extra_sink` (a path or callable) adds one more sink, e.g. a test log file.

    Sinks this process (or the job forkserver it was forked from) already set up
    with the same arguments are kept: only the configuration the filter reads
    and the syslog tag's pid change. Why: removing and adding loguru sinks in
    every job run cost ~1.5 ms of CPU and ~1.2 MB of copied pages per run.
    """
    key = (bool(stderr), extra_sink, syslog_address, level, os.path.exists(syslog_address))
    if _SINKS.get("key") == key and _sinks_alive(_SINKS["ids"]):
        _SINKS["config"] = config
        if _SINKS["handler"] is not None:
            _SINKS["handler"].ident = "%s[%d]: " % (IDENT, os.getpid())
        return list(_SINKS["ids"])
    _SINKS.clear()
    logger.remove()
    _SINKS["config"] = config
    accept = make_filter(lambda: _SINKS.get("config"))
    ids = []
    handler = _syslog_handler(syslog_address)
    if handler is not None:
        ids.append(logger.add(handler, format=FORMAT, level=level, filter=accept,
                              backtrace=False, diagnose=False, catch=True))
    global _STDERR_ACTIVE
    _STDERR_ACTIVE = bool((stderr or handler is None) and sys.stderr is not None)
    if _STDERR_ACTIVE:
        ids.append(logger.add(sys.stderr, format=STDERR_FORMAT, level=level, filter=accept,
                              backtrace=False, diagnose=False, catch=True, colorize=False))
    if extra_sink is not None:
        ids.append(logger.add(extra_sink, format=STDERR_FORMAT, level=level, filter=accept,
                              backtrace=False, diagnose=False, catch=True, colorize=False))
    _SINKS.update(key=key, ids=tuple(ids), handler=handler)
    return ids


def _sinks_alive(ids):
    """Whether loguru still has every sink `ids` names (nobody removed them since); unsure is no."""
    try:
        handlers = logger._core.handlers
    except AttributeError:
        return False
    return all(i in handlers for i in ids)
