"""A stand-in for the loguru logger the jobs are given: it keeps every line as (LEVEL, text)."""
import threading


class RecordingLog:
    """The loguru calls the jobs make (`log.info("{}", x)` ...), kept as (level, formatted text)."""

    def __init__(self):
        self.lines = []
        self._lock = threading.Lock()

    def _add(self, level, text, *args):
        with self._lock:
            self.lines.append((level, text.format(*args)))

    def log(self, level, text, *args):
        self._add(level, text, *args)

    def __getattr__(self, name):
        if name in ("debug", "info", "warning", "error"):
            return lambda text, *args: self._add(name.upper(), text, *args)
        raise AttributeError(name)

    def at(self, level):
        return [t for lv, t in self.lines if lv == level]

    def errors(self):
        return self.at("ERROR")
