"""Shared CLI plumbing: documented exit statuses and one place that maps
every expected exception to a one-line message.

Why: admins script around `ha-cfg`; an error must be one clear line on
stderr with a stable exit status, never a traceback (which could also carry
values we must not show).
"""
import json
import sys

from halizard.hostinfo import HostInfoError
from halizard.xapi.errors import (
    XapiFailure,
    XapiTimeout,
    XapiUnreachable,
)

EXIT_OK = 0
EXIT_ERROR = 1        # bad input, refused by XAPI, not found
EXIT_USAGE = 2        # wrong command line
EXIT_UNREACHABLE = 3  # the pool master did not answer (timeout or no connection)
EXIT_INTERRUPTED = 130

EXIT_STATUS_HELP = """exit status:
  0  success
  1  error: invalid value, unknown name, XAPI refused the request
  2  usage error (wrong command line, confirmation needed)
  3  the pool master did not answer (within XE_TIMEOUT) or could not be reached"""

MASK = "********"


class CliError(Exception):
    """An error for the user: message plus exit status."""

    def __init__(self, message, status=EXIT_ERROR):
        super().__init__(message)
        self.status = status


class UsageError(CliError):
    def __init__(self, message):
        super().__init__(message, EXIT_USAGE)


def describe_error(exc, writing=False):
    """(message, exit status) for an exception the CLI expects."""
    if isinstance(exc, CliError):
        return str(exc), exc.status
    if isinstance(exc, XapiTimeout):
        tail = "; the change may or may not have been applied" if writing else ""
        # the local socket is named by its path: on a slave a silent master shows up as its silence
        who = "the local xapi (or the pool master behind it)" if exc.url.startswith("/") else "the pool master"
        return ("%s did not answer within %gs (%s)%s" % (who, exc.seconds, exc.url, tail), EXIT_UNREACHABLE)
    if isinstance(exc, XapiUnreachable):
        who = "the local xapi" if exc.url.startswith("/") else "the pool master"
        return "cannot reach %s at %s: %s" % (who, exc.url, exc.reason), EXIT_UNREACHABLE
    if isinstance(exc, XapiFailure):
        return "XAPI refused the request: %s" % exc, EXIT_ERROR
    if isinstance(exc, HostInfoError):
        return str(exc), EXIT_ERROR
    return None, None


def run_main(prog, body, stderr=None):
    """Run `body()` -> exit status, mapping expected exceptions to one line on stderr."""
    stderr = stderr or sys.stderr
    try:
        return body()
    except KeyboardInterrupt:
        stderr.write("%s: interrupted\n" % prog)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - every error ends as one line, never a traceback
        message, status = describe_error(exc, getattr(exc, "writing", False))
        if message is None:
            message, status = "internal error (%s): %s" % (type(exc).__name__, exc), EXIT_ERROR
        stderr.write("%s: %s\n" % (prog, message))
        return status


def dump_json(obj, out):
    out.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def table(rows, headers=None):
    """Plain aligned columns (no terminal tricks, so output pipes well)."""
    rows = [[str(c) for c in row] for row in rows]
    if headers:
        rows.insert(0, list(headers))
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(len(r) for r in rows))]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def boxed(lines):
    """The status box of the old tool: lines framed by + - |."""
    width = max((len(line) for line in lines), default=0)
    edge = "+" + "-" * (width + 2) + "+"
    return "\n".join([edge] + ["| %s |" % line.ljust(width) for line in lines] + [edge]) + "\n"
