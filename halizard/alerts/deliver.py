"""The delivery worker: a detached process that flushes the mail spool once, within a deadline.

Why: `raise_alert()` runs inside HA jobs that have their own deadlines (and
are killed with their process group when they overrun). Mail is handed to a
process in its own session, so neither waits for the other. The mail
settings (SMTP_PASS included) travel through the worker's stdin pipe: never
through argv, the environment or a file.

    python -m halizard.alerts.deliver --root ROOT  < {"settings": {...} or null, "deadline": 60}

It sends the spooled mail (when given settings), then posts the queued XAPI
messages (alerts raised without a usable session) through its own session.
"""

import argparse
import json
import signal
import subprocess
import sys
import time

from halizard import paths
from halizard.alerts import spool
from halizard.alerts.settings import MailSettings, SettingsError

DEADLINE = 60.0
_children = []


def spawn(root, settings=None, deadline=DEADLINE):
    """Start a worker and return at once (no wait on the worker). Returns its pid.

    `settings` (MailSettings) are needed to flush the mail queue; without
    them the worker only posts queued XAPI messages."""
    _reap()
    payload = json.dumps({"settings": settings.to_dict() if settings is not None else None,
                          "deadline": deadline}).encode("utf-8")
    child = subprocess.Popen(
        [sys.executable, "-m", "halizard.alerts.deliver", "--root", paths.resolve_root(root)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        close_fds=True, start_new_session=True,
    )
    try:
        child.stdin.write(payload)  # a few hundred bytes: fits the pipe buffer, never blocks
        child.stdin.close()
    except OSError:
        pass
    _children.append(child)
    return child.pid


def _reap():
    """Collect finished workers so a long-lived caller keeps no zombies."""
    for child in list(_children):
        if child.poll() is not None:
            _children.remove(child)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="halizard.alerts.deliver", description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    args = parser.parse_args(argv)
    try:
        document = json.loads(sys.stdin.read(1 << 20) or "{}")
        settings = MailSettings.from_dict(document["settings"]) if document.get("settings") else None
        deadline = min(float(document.get("deadline", DEADLINE)), 600.0)
    except (ValueError, KeyError, TypeError, SettingsError) as exc:
        print("deliver: bad hand-over: %s" % exc.__class__.__name__, file=sys.stderr)
        return 2
    signal.alarm(int(deadline) + 15)  # backstop: the worker never outlives its deadline by much
    end = time.monotonic() + deadline
    failed = False
    if settings is not None:
        failed = bool(spool.flush(args.root, settings, deadline_seconds=deadline).error)
    left = end - time.monotonic()
    if left > 1 and spool.entry_names(args.root, spool.XAPI):
        failed = bool(spool.flush_messages(args.root, deadline_seconds=left).error) or failed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
