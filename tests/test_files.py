"What chapter 00a cannot show on its page: killed lock holders, a second process waiting, a full disk, a read-only folder."
import errno, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import pytest
import mgr_course.files as files
from mgr_course.files import atomic_path, atomic_write, file_lock

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, 'PYTHONPATH': str(ROOT)}

# a script that takes the lock, then runs parallel_map whose workers sleep (as a dataset generation would)
HOLDER = textwrap.dedent('''
    import os, sys, time
    from pathlib import Path
    from mgr_course.files import file_lock, parallel_map

    def work(d):
        Path(d, f'worker-{os.getpid()}').touch()
        time.sleep(300)

    if __name__ == '__main__':
        with file_lock(sys.argv[1], 'test holder'):
            parallel_map(work, [sys.argv[2]]*4, n_jobs=2, progress=False, chunksize=1)
''')

TAKER = 'import sys\nfrom mgr_course.files import file_lock\nwith file_lock(sys.argv[1]): print("acquired", flush=True)'


def _alive(pid: int) -> bool:
    "True while `pid` runs (a zombie left for a reaper counts as dead)."
    try: return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0] != 'Z'
    except (FileNotFoundError, ProcessLookupError): return False


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='PR_SET_PDEATHSIG and /proc are Linux-only')
def test_lock_is_free_soon_after_its_holder_is_killed(tmp_path):
    "Issue 13: `kill -9` of a run inside parallel_map used to leave workers holding the lock, and the next run hung."
    (tmp_path/'holder.py').write_text(HOLDER)
    lock, marks = tmp_path/'.ds.lock', tmp_path/'marks'; marks.mkdir()
    holder = subprocess.Popen([sys.executable, tmp_path/'holder.py', lock, marks], env=ENV, cwd=tmp_path)
    workers = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and holder.poll() is None:
            time.sleep(0.1); workers = [int(p.name.split('-')[1]) for p in marks.iterdir()]
        assert len(workers) == 2, f'the workers did not start (holder exit code {holder.poll()})'
        assert lock.read_text().startswith(f'pid={holder.pid} since=') and 'test holder' in lock.read_text()
        holder.send_signal(signal.SIGKILL); holder.wait(10)
        t0 = time.monotonic()
        taker = subprocess.run([sys.executable, '-c', TAKER, lock], env=ENV, capture_output=True, text=True, timeout=60)
        assert taker.stdout.strip() == 'acquired'
        deadline = time.monotonic() + 10                                     # the workers died with their parent
        while any(map(_alive, workers)) and time.monotonic() < deadline: time.sleep(0.1)
        assert not any(map(_alive, workers)), f'workers {workers} outlived their parent'
        print(f'lock acquired {time.monotonic() - t0:.1f} s after the holder was killed')
    finally:                                                                 # never leave a process of ours behind
        for pid in [holder.pid, *workers]:
            if _alive(pid):
                try: os.kill(pid, signal.SIGKILL)
                except ProcessLookupError: pass


def test_waiter_says_once_who_holds_the_lock(tmp_path):
    lock = tmp_path/'.x.lock'
    with file_lock(lock, 'generating x'):
        taker = subprocess.Popen([sys.executable, '-c', TAKER, lock], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = taker.stderr.readline()                                  # blocks until the waiter has spoken
            assert f'waiting for the lock {lock}, held by pid={os.getpid()} since=' in line and line.rstrip().endswith('generating x')
            time.sleep(0.5); assert taker.poll() is None                   # still waiting while we hold it
        except BaseException:
            taker.kill(); raise
    out, err = taker.communicate(timeout=60)
    assert out.strip() == 'acquired' and err == ''                          # one line in all, then it got the lock
    assert lock.read_text() == ''


def _raise(code):
    def f(*a, **k): raise OSError(code, os.strerror(code))
    return f


def test_disk_full_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    p = atomic_write(tmp_path/'results'/'x.json', {'acc': 0.5})
    monkeypatch.setattr(files.os, 'replace', _raise(errno.ENOSPC))         # the disk fills at the last step...
    with pytest.raises(OSError) as e: atomic_write(p, {'acc': 0.7})
    assert str(e.value) == f'could not write {p}: no space left on device (errno 28); free space or choose another folder'
    assert e.value.errno == errno.ENOSPC
    monkeypatch.undo()
    with pytest.raises(OSError, match='no space left'):                   # ...or while a writer writes by name
        with atomic_path(p) as tmp:
            tmp.write_text('{"acc": 0.'); _raise(errno.ENOSPC)()
    assert p.read_text() == '{\n "acc": 0.5\n}\n'
    assert sorted(q.name for q in p.parent.iterdir()) == ['x.json']         # no temporary left behind


def test_read_only_folder(tmp_path, monkeypatch):
    "A read-only folder, simulated (tests run as root, which ignores permission bits): every open for writing fails EROFS."
    real_open, real_os_open = open, os.open
    def ro_open(f, mode='r', *a, **k):
        if any(c in mode for c in 'wax+'): raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(f))
        return real_open(f, mode, *a, **k)
    def ro_os_open(f, flags, *a, **k):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT): raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(f))
        return real_os_open(f, flags, *a, **k)
    monkeypatch.setattr('builtins.open', ro_open); monkeypatch.setattr(files.os, 'open', ro_os_open)
    with pytest.raises(OSError, match=f'could not write {tmp_path/"a.txt"}: read-only file system .*choose a writable folder'):
        atomic_write(tmp_path/'a.txt', 'text')
    with pytest.raises(OSError, match=f'cannot open the lock file {tmp_path/".l.lock"}: read-only file system'):
        with file_lock(tmp_path/'.l.lock'): pass
    assert list(tmp_path.iterdir()) == []
