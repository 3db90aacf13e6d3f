"""Atomic outputs under real failures: killed writers, live writers, full and read-only disks."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from xnet_edge.errors import OutputError
from xnet_edge.io_utils import (STAGING_SUFFIX, atomic_dir, atomic_path, check_writable, clean_stale_staging,
                                write_bytes_atomic)

# A writer that stages a folder, says so, and then waits to be killed (or released).
WRITER = textwrap.dedent("""
    import sys, time
    from xnet_edge.io_utils import atomic_dir
    with atomic_dir(sys.argv[1]) as tmp:
        (tmp / "big.bin").write_bytes(b"x" * 100000)
        print(tmp, flush=True)
        sys.stdin.readline()
""")


def _start_writer(dest):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(dest)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    staged = proc.stdout.readline().strip()
    assert staged.endswith(STAGING_SUFFIX), staged
    return proc, staged


def _hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_killed_run_leaves_staging_that_the_next_run_removes(tmp_path):
    dest = tmp_path / "engine"
    proc, staged = _start_writer(dest)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert os.path.isdir(staged) and not dest.exists()  # kill -9: nothing published, leftovers remain
    with atomic_dir(dest) as tmp:
        (tmp / "ok.txt").write_text("done")
    assert not os.path.exists(staged)
    assert _hidden(tmp_path) == [] and (dest / "ok.txt").read_text() == "done"


def test_the_staging_of_a_live_run_is_kept(tmp_path):
    dest = tmp_path / "engine"
    proc, staged = _start_writer(dest)
    try:
        assert clean_stale_staging(tmp_path) == []
        with atomic_dir(dest) as tmp:  # a concurrent run of the same output
            (tmp / "mine.txt").write_text("x")
        assert os.path.isdir(staged)
    finally:
        proc.stdin.write("\n")
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    assert (dest / "big.bin").is_file() and _hidden(tmp_path) == []  # the last finished run wins


def test_only_our_own_pattern_is_cleaned(tmp_path):
    keep = [tmp_path / ".engine.tmp", tmp_path / ".engine.1234.other", tmp_path / "x.xnet-staging"]
    for path in keep:
        path.mkdir()
    stale = tmp_path / f".engine.999-abcd{STAGING_SUFFIX}"
    stale.mkdir()
    assert clean_stale_staging(tmp_path) == [stale]
    assert all(p.exists() for p in keep)


def test_a_failure_removes_the_folders_it_created(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "a" / "b" / "out.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "c" / "engine"):
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_replacing_a_folder_keeps_the_old_one_until_the_new_one_is_whole(tmp_path):
    dest = tmp_path / "engine"
    with atomic_dir(dest) as tmp:
        (tmp / "v").write_text("1")
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(dest) as tmp:
            (tmp / "v").write_text("2")
            raise KeyboardInterrupt
    assert (dest / "v").read_text() == "1"
    with atomic_dir(dest) as tmp:
        (tmp / "v").write_text("3")
    assert (dest / "v").read_text() == "3" and _hidden(tmp_path) == []


def test_merge_keeps_other_files(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    (dest / "model.onnx").write_text("old")
    with atomic_dir(dest, merge=True) as tmp:
        (tmp / "model.onnx").write_text("new")
    assert (dest / "notes.txt").read_text() == "mine" and (dest / "model.onnx").read_text() == "new"


def test_full_disk_is_one_output_error_and_leaves_nothing(mount_tmpfs):
    disk = mount_tmpfs("full", size="64k")
    with pytest.raises(OutputError, match=r"out\.bin: No space left on device"):
        write_bytes_atomic(disk / "sub" / "out.bin", b"x" * 1_000_000)
    assert list(disk.iterdir()) == []


def test_file_size_limit_is_one_output_error(tmp_path):
    # RLIMIT_FSIZE: the same failure as a full disk, without mounting anything.
    code = textwrap.dedent("""
        import resource, sys
        from xnet_edge.errors import OutputError
        from xnet_edge.io_utils import write_bytes_atomic
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            write_bytes_atomic(sys.argv[1], b"x" * 100000)
        except OutputError as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out.bin")], capture_output=True, text=True,
                         timeout=60)
    assert "out.bin: File too large" in out.stdout, out.stderr
    assert list(tmp_path.iterdir()) == []


def test_read_only_disk_is_refused_before_work(mount_tmpfs):
    disk = mount_tmpfs("ro", read_only=True)
    with pytest.raises(OutputError, match="Read-only file system"):
        check_writable(disk / "engine", is_dir=True)
    with pytest.raises(OutputError, match=r"out\.json: Read-only file system"):
        write_bytes_atomic(disk / "out.json", b"{}")


def test_writability_checks_the_kind_of_path(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        check_writable(tmp_path / "file", is_dir=True)
    with pytest.raises(OutputError, match="is a folder"):
        check_writable(tmp_path, "--json")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_writable(tmp_path / "file" / "report.json", "--json")
    assert check_writable(tmp_path / "new" / "report.json") == tmp_path / "new" / "report.json"
    assert not (tmp_path / "new").exists()
