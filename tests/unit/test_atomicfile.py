"""halizard.atomicfile.write_atomic: mode from the start, file and directory fsynced, old file kept on failure."""
import os
import stat

import pytest

from halizard import atomicfile
from halizard.atomicfile import write_atomic


def test_writes_text_and_bytes_with_the_mode_asked(tmp_path):
    target = tmp_path / "state.json"
    write_atomic(str(target), "é\n", mode=0o640)
    assert target.read_bytes() == "é\n".encode("utf-8")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    write_atomic(str(target), b"\x00raw")
    assert target.read_bytes() == b"\x00raw" and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(str(tmp_path)) == ["state.json"]


def test_mode_before_data_then_the_file_and_its_directory_fsynced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        info = os.fstat(fd)
        synced.append((stat.S_ISDIR(info.st_mode), stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None))
        real_fsync(fd)

    monkeypatch.setattr(atomicfile.os, "fsync", spy)
    write_atomic(str(tmp_path / "secret"), "private", mode=0o600)
    assert synced == [(False, 0o600), (True, None)]


@pytest.mark.parametrize("fail_at", ["fsync", "replace"])
def test_a_failure_leaves_the_old_file_intact_and_no_temp_file(tmp_path, monkeypatch, fail_at):
    target = tmp_path / "pool-config.json"
    target.write_text("old\n")

    def broken(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomicfile.os, fail_at, broken)
    with pytest.raises(OSError):
        write_atomic(str(target), "new\n")
    assert target.read_text() == "old\n"
    assert os.listdir(str(tmp_path)) == ["pool-config.json"]
