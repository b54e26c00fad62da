"""Shared test setup: the order the README promises (chapters, then tests, then the website), the fixtures folder, and the
website's pages as `nbdev-proc-nbs` writes them (processed once per session)."""
import os, shutil, subprocess, sys, tempfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT/'fixtures'   # real FMA metadata and recordings, shipped in the clone (the folder config.fixtures_dir() names)

# Tests run with the chapters' small sizes (the same switch nbdev-test sets).
os.environ.setdefault('IN_TEST', '1')

def _rank(item):
    "Chapters first, the website last, every other test in between."
    name = item.nodeid
    if 'test_chapters.py' in name: return 0
    if 'test_website.py' in name or 'test_pages.py' in name: return 2
    return 1

def pytest_collection_modifyitems(session, config, items):
    items.sort(key=_rank)   # sort is stable: within a group, pytest's own order stays

@pytest.fixture(scope='session')
def fixtures_dir():
    "The real-format fixtures shipped in the clone: the folder the chapters read (never skipped: a clone always has it)."
    from mgr_course.config import fixtures_dir
    assert fixtures_dir() == FIXTURES, f'the chapters read {fixtures_dir()}, the tests {FIXTURES}'
    return FIXTURES

SINE_AMPS = [0.1, 0.2, 0.3, 0.4]

def sine_clips(folder: Path, pitch_step: float = 0.):
    """A tiny clip table over 8 WAV files in `folder`: 4 training clips, 2 validation, 2 test, 7 s each; sines of amplitude
    `SINE_AMPS[i % 4]` and frequency 441 + pitch_step * i Hz (a step > 0 makes every file distinct), the odd ones at 22.05 kHz."""
    import numpy as np, pandas as pd, soundfile as sf
    from mgr_course.config import CFG
    rows = []
    for i in range(8):
        rate = CFG.sample_rate if i % 2 == 0 else 22_050
        t = np.arange(int(7 * rate)) / rate
        p = Path(folder)/f'{i:06d}.wav'
        sf.write(p, (SINE_AMPS[i % 4] * np.sin(2 * np.pi * (441 + pitch_step * i) * t)).astype(np.float32), rate, subtype='FLOAT')
        rows.append(dict(track_id=i, genre=CFG.genres[i % 2], label=i % 2, split=(['training'] * 4 + ['validation'] * 2 + ['test'] * 2)[i],
                         path=str(p), samples=7 * CFG.sample_rate))
    return pd.DataFrame(rows).set_index('track_id')

def proc_nbs(root: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    "Run `nbdev-proc-nbs` in `root` (it writes `root/_proc`), with a `quarto` that does nothing where Quarto is absent."
    bin_ = Path(sys.executable).parent
    env = {**(os.environ if env is None else env)}
    env['PATH'] = f"{bin_}{os.pathsep}{env.get('PATH', '')}"
    if not shutil.which('quarto', path=env['PATH']):
        # nbdev-proc-nbs offers to install Quarto when it is missing (with sudo and a download); processing the
        # notebooks does not need it, so a `quarto` that does nothing stands in for that check only.
        shim = Path(tempfile.mkdtemp(prefix='quarto-shim-'))
        (shim/'quarto').write_text('#!/bin/sh\nexit 0\n'); (shim/'quarto').chmod(0o755)
        env['PATH'] = f"{shim}{os.pathsep}{env['PATH']}"
    return subprocess.run([str(bin_/'nbdev-proc-nbs')], cwd=root, env=env, capture_output=True, text=True, timeout=900)

@pytest.fixture(scope='session')
def proc_dir() -> Path:
    "The pages' source, `_proc/`, as `nbdev-proc-nbs` writes it from the committed notebooks (IN_TEST set, as in CI)."
    r = proc_nbs()
    assert r.returncode == 0, f'nbdev-proc-nbs failed:\n{r.stdout}\n{r.stderr}'
    return ROOT/'_proc'
