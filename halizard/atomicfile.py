"""The one atomic file write: a reader sees the old file or the new one, never half, even after a crash.

Why one: state files, the pool cache, the alert spool, the metrics textfile,
the pid file and the sim roots all need the same guarantee; copies of it
drifted (some skipped an fsync or the mode). Steps: a temp file in the same
directory (so the rename never crosses file systems), its mode set before
any byte is written (a secret is never readable by others, even briefly),
the data fsynced, renamed over the target, then the directory fsynced (so
the rename itself survives a power cut). On any failure the temp file is
removed and the old file is left as it was.
"""
import os
import tempfile


def write_atomic(path, data, mode=0o600):
    """Replace `path` with `data` (str: UTF-8, or bytes) atomically and durably, with permissions `mode`.

    The directory must exist. Raises OSError (the old file, if any, is untouched).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(directory)


def fsync_dir(directory):
    """Make a rename or unlink in `directory` durable (best effort: some file systems refuse it)."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
