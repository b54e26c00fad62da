"""Issue 22, items 4 and 6 (round three): a trained network stands on its own, a copied dataset keeps its runs and caches,
and every command a message suggests runs as written. Tiny networks (one step) on a copy of the small IN_TEST dataset."""
import os, shlex, shutil, subprocess, time
from pathlib import Path
import pytest
from mgr_course import cli
from mgr_course.config import CFG
from test_faults import mgr, refused, SUGGESTED, files_under
from test_predict import tone

N, SR = CFG.crop_samples, CFG.sample_rate


@pytest.fixture(scope='module')
def source_root():
    from mgr_course.data import clip_table
    return Path(clip_table(progress=False).attrs['root'])      # the small IN_TEST synthetic dataset (generated on first use)


def run_mgr(argv, capsys) -> tuple[str, str]:
    "`mgr argv` in this process; it must succeed; returns (stdout, stderr)."
    try: cli.main([str(a) for a in argv])
    except SystemExit as e: pytest.fail(f'mgr {argv} exited: {e.code}\n{capsys.readouterr().err[-2000:]}')
    out = capsys.readouterr()
    return out.out, out.err


def failed(argv, capsys) -> str:
    "`mgr argv` in this process must fail with one line; returns it."
    with pytest.raises(SystemExit) as e: cli.main([str(a) for a in argv])
    assert e.value.code not in (0, None)
    line = str(e.value.code); assert len(line.splitlines()) == 1, line
    return line


@pytest.fixture
def trained(source_root, tmp_path, monkeypatch, capsys):
    "A dataset folder `data` (a copy of the IN_TEST one), MGR_DATA `home`, and Mel2DCNN trained on it for one step: (data, home, runs)."
    data, home = tmp_path/'mydata', tmp_path/'home'
    shutil.copytree(source_root, data)
    monkeypatch.setenv('MGR_DATA', str(home))
    run_mgr(['train', 'Mel2DCNN', '--data', data, '--steps', '1'], capsys)
    (runs,) = (home/'runs').iterdir()
    return data, home, runs


def test_predict_with_runs_after_the_dataset_is_deleted(trained, tmp_path, capsys):
    "Item 4: the dataset deleted, `mgr predict --runs` works, in this process and as a user runs it; nothing is generated or scanned."
    data, home, runs = trained
    wav = tone(tmp_path/'a.wav', 1.5 * N / SR)
    shutil.rmtree(data)
    for argv in (['predict', wav, '--model', 'Mel2DCNN', '--runs', runs], ['predict', wav, '--model', 'Mel2DCNN', '--runs', runs, '--data', data]):
        out, err = run_mgr(argv, capsys)
        assert out.startswith(f'{wav}: ') and len(out.splitlines()) == 1 + len(CFG.genres), out
        assert 'Mel2DCNN was trained on the dataset mydata' in err, err         # the run folder's name, read by parse_runs_folder
        r = mgr(*argv, env={'MGR_DATA': home})
        assert r.returncode == 0 and r.stdout == out, r.stderr[-2000:]
    assert sorted(p.name for p in home.iterdir()) == ['cache', 'runs'] and not data.exists()


@pytest.mark.parametrize('command, names', [('evaluate', ['MFCC2DCNN']), ('evaluate', []), ('ensemble', ['Ensemble1'])])
def test_evaluate_finds_its_runs_before_touching_the_dataset(trained, command, names, capsys, monkeypatch):
    "Item 4: evaluate and ensemble find their runs from the saved models; a network not trained there fails before any clip is read (before: the dataset was scanned first)."
    import mgr_course.data
    data, home, runs = trained
    def no_clips(*a, **k): raise AssertionError('the dataset was read to find the runs')
    monkeypatch.setattr(mgr_course.data, 'clip_table', no_clips)
    line = failed([command, *names, '--data', data], capsys)
    assert str(runs) in line and 'train' in line, line


def test_evaluate_and_load_ensemble_generate_nothing_to_find_runs(tmp_path, monkeypatch, capsys):
    "Item 4: nothing trained for the default dataset: evaluate, ensemble and load_ensemble say so, and generate no dataset to find out (before: they generated it)."
    from mgr_course.ensemble import load_ensemble
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    for argv in (['evaluate'], ['ensemble']):
        assert 'no trained networks for the dataset synthetic-' in failed(argv, capsys)
    with pytest.raises(FileNotFoundError, match='no trained networks'): load_ensemble('Ensemble1')
    assert not any(tmp_path.iterdir()), sorted(tmp_path.rglob('*'))


def copy_tree(how: str, src: Path, dst: Path):
    "Copy a dataset folder as a user would: `shutil.copytree` without metadata, or `cp -r`; both give new modification times."
    if how == 'cp -r': subprocess.run(['cp', '-r', str(src), str(dst)], check=True)
    else: shutil.copytree(src, dst, copy_function=shutil.copy)
    later = time.time() + 100
    for p in dst.rglob('*'): os.utime(p, (later, later))                         # surely other times than the original's


def cache_files(folder: Path) -> list:
    "What the cache folder holds, whatever its format: each file's path and size, and the time it was written unless empty (a lock, touched by every reader)."
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns if p.stat().st_size else 0) for p in files_under(folder))


@pytest.mark.parametrize('how', ['copytree', 'cp -r'])
def test_a_copied_dataset_keeps_its_runs_and_caches(trained, tmp_path, capsys, how):
    "Item 4, `cp -r` end to end: training on the copy reuses the run (same checkpoint, no new run folder) and decodes nothing anew (the cache folder's files unchanged); evaluate and predict on the copy find the run."
    data, home, runs = trained
    ck = runs/'Mel2DCNN'/'checkpoint.pt'
    before = dict(runs=sorted(p.name for p in (home/'runs').iterdir()), ck=(ck.read_bytes(), ck.stat().st_mtime_ns), cache=cache_files(home/'cache'))
    copy = tmp_path/'copy of mydata'
    copy_tree(how, data, copy)
    out, _ = run_mgr(['train', 'Mel2DCNN', '--data', copy, '--steps', '1'], capsys)
    assert f'run folder {runs/"Mel2DCNN"}' in out, out                          # before: a new folder 'copy of mydata-<key>', trained anew
    assert sorted(p.name for p in (home/'runs').iterdir()) == before['runs']
    assert (ck.read_bytes(), ck.stat().st_mtime_ns) == before['ck'], 'the checkpoint was written again: the run was retrained'
    assert cache_files(home/'cache') == before['cache'], 'the copy was decoded anew'
    out, _ = run_mgr(['evaluate', 'Mel2DCNN', '--data', copy], capsys)            # found by the copy's task, not its folder's name
    assert 'Mel2DCNN:' in out and 'top-1' in out, out


def test_every_suggested_command_runs_as_written(trained, tmp_path, capsys, monkeypatch):
    "Item 6: each `mgr ...` a message or predict's card suggests carries the --data/--runs given, and runs as written (before: `mgr evaluate` evaluated every network, most untrained)."
    data, home, runs = trained
    wav = tone(tmp_path/'a.wav', 1.5 * N / SR)
    _, err = run_mgr(['predict', wav, '--model', 'Mel2DCNN', '--data', data], capsys)
    card = SUGGESTED.findall(err)
    assert f'mgr evaluate Mel2DCNN --crops all --data {data}' in card, err
    line = failed(['evaluate', 'Raw1DCNN', '--data', data, '--runs', runs], capsys)   # not trained there
    hint = SUGGESTED.findall(line)
    assert f'mgr train Raw1DCNN --data {data} --runs {runs}' in hint, line
    for cmd in [*card, *hint]:
        argv = shlex.split(cmd)[1:]
        if argv[0] in ('reproduce', 'download'): continue                      # the whole job, or 7 GiB: their options are checked above
        r = mgr(*argv, env={'MGR_DATA': home})
        assert r.returncode == 0, (cmd, r.stderr[-2000:])
