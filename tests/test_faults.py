"""Issue 13, item by item: each fault or bad input a careful user tried, run as a user runs it (`mgr` in a separate process).
Each test checks what the user sees: the exit status, one message naming the file or option, no traceback, nothing half-written.
Some items are also tested closer to the code: the lock (test_files), run identity and checkpoints (test_learner), the
read-only dataset folder (test_data), downloads (test_download), streaming and silence (test_predict)."""
import json, os, re, shlex, shutil, signal, subprocess, sys, textwrap, time
from pathlib import Path
import numpy as np, pytest, soundfile as sf, torch
from mgr_course.config import CFG, available_devices
from mgr_course.data import clip_table, scan_clip
from mgr_course.learner import train_network, runs_dir, parse_runs_folder
from mgr_course.data import dataset_root
from test_predict import MEASURE, tone

ROOT = Path(__file__).resolve().parents[1]
MGR = [str(Path(sys.executable).parent/'mgr')]     # the console script, as a user runs it
SR, N = CFG.sample_rate, CFG.crop_samples

# `mgr` with some folders refusing every write (EROFS), as on a read-only disk, even for root (who ignores chmod); or, with
# a `match`, refusing to write only files whose name holds it, with another errno (ENOSPC: a disk that fills mid-run); with
# `after`, letting such a file take that many bytes before the disk is full (the writer, torch.save or pathlib, fails).
FAULTY_DISK = textwrap.dedent('''
    import builtins, errno, json, os, sys
    from pathlib import Path
    spec = json.loads(sys.argv[1]); sys.argv = ['mgr', *sys.argv[2:]]
    folders, code, match = [Path(f).absolute() for f in spec['folders']], spec.get('errno', errno.EROFS), spec.get('match', '')
    def hit(f):
        if not isinstance(f, (str, os.PathLike)): return False
        p = Path(os.path.abspath(f))
        return match in p.name and any(p.is_relative_to(d) for d in folders)
    def err(f): return OSError(code, os.strerror(code), str(f))
    real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir
    def open_(f, mode='r', *a, **k):
        if hit(f) and any(c in mode for c in 'wax+'): raise err(f)
        return real_open(f, mode, *a, **k)
    def os_open(f, flags, *a, **k):
        if hit(f) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT): raise err(f)
        return real_os_open(f, flags, *a, **k)
    def mkdir(f, *a, **k):
        if hit(f): raise err(f)
        return real_mkdir(f, *a, **k)
    if 'after' in spec:                             # the disk fills after that many bytes of a matching file: the writer itself fails
        import io
        class Filling(io.FileIO):
            def write(self, b):
                if self.tell() + len(memoryview(b).cast('B')) > spec['after']: raise OSError(code, os.strerror(code))
                return super().write(b)
        def open_(f, mode='r', *a, **k):
            return Filling(f, 'wb') if hit(f) and mode == 'wb' else real_open(f, mode, *a, **k)
        io.open = open_; builtins.open = open_
    else: builtins.open, os.open, os.mkdir = open_, os_open, mkdir
    from mgr_course.cli import main
    main()
''')


def mgr(*args, env=None, faulty=None, timeout=600):
    "Run `mgr args` (IN_TEST sizes); `faulty`: the FAULTY_DISK spec ({'folders': [...], 'errno': .., 'match': ..}) to run it under."
    cmd = [*MGR, *map(str, args)] if faulty is None else [sys.executable, '-c', FAULTY_DISK, json.dumps(faulty, default=str), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                          env={**os.environ, 'IN_TEST': '1', **{k: str(v) for k, v in (env or {}).items()}})


def refused(r, *words, code=None):
    "The command failed (with exit status `code`, if given) with a message naming each of `words`, and no traceback."
    assert r.returncode != 0 and (code is None or r.returncode == code), (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert 'Traceback' not in r.stderr, r.stderr
    for w in words: assert str(w) in r.stderr, (w, r.stderr)


def files_under(folder: Path) -> list:
    return [p for p in Path(folder).rglob('*') if p.is_file()] if Path(folder).exists() else []


@pytest.fixture(scope='module')
def clips(): return clip_table(progress=False)          # the small IN_TEST synthetic dataset (generated on first use)


@pytest.fixture(scope='module')
def runs(clips, tmp_path_factory):
    "Two networks trained for one step: enough to predict, evaluate and swap checkpoints."
    runs = tmp_path_factory.mktemp('runs')
    for name in ('Mel2DCNN', 'MFCC2DCNN'): train_network(name, clips=clips, runs=runs, steps=1, device='cpu', progress=False)
    return runs


# ------------------------------------------------------------------ 1. a killed `mgr generate` leaves nothing to wait for
@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='workers die with their parent through PR_SET_PDEATHSIG (Linux)')
@pytest.mark.parametrize('sig', [signal.SIGKILL, signal.SIGTERM])
def test_item01_generate_after_a_killed_generate_does_not_hang(tmp_path, sig):
    args, env = ('generate', '--per-genre', '3', '--seconds', '7'), {'MGR_DATA': tmp_path}
    p = subprocess.Popen([*MGR, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={**os.environ, 'IN_TEST': '1', 'MGR_DATA': str(tmp_path)})
    deadline = time.time() + 120
    while not list(tmp_path.rglob('*.mp3')) and time.time() < deadline: time.sleep(0.05)   # its workers are writing clips
    p.send_signal(sig); p.wait(60)
    r = mgr(*args, env=env, timeout=180)              # before the fix: waited forever on the lock the orphaned workers held
    assert r.returncode == 0 and 'synthetic dataset ready' in r.stdout, r.stderr[-2000:]


# ------------------------------------------------------------------ 2. a folder of the same name with other content
def test_item02_same_folder_name_other_content_gets_other_runs(clips, tmp_path):
    src = Path(clips.attrs['root'])
    a, b = tmp_path/'a'/'mydata', tmp_path/'b'/'mydata'
    shutil.copytree(src, a); shutil.copytree(src, b)
    next((b/'fma_small').rglob('*.mp3')).unlink()        # one clip fewer: other content under the same name
    ra, rb = (runs_dir(CFG.replace(dataset=str(d))) for d in (a, b))
    assert ra != rb and parse_runs_folder(ra.name)[1] != parse_runs_folder(rb.name)[1]   # the same name, other keys (a copy would share its key)


# ------------------------------------------------------------------ 3. silence and NaN audio
@pytest.mark.parametrize('samples, message', [(np.zeros(2 * N, np.float32), 'digital silence'),
                                              (np.where(np.arange(2 * N) == N + 3, np.nan, 0.1).astype(np.float32), 'NaN'),
                                              (np.full(2 * N, 0.5, np.float32), 'no usable audio signal'),          # issue 22, item 5
                                              ((-0.3 + 1e-6 * np.random.default_rng(0).standard_normal(2 * N)).astype(np.float32), 'no usable audio signal')])
def test_item03_predict_refuses_silence_and_nan_by_name(runs, tmp_path, samples, message):
    wav = tmp_path/'clip.wav'; sf.write(wav, samples, SR, subtype='FLOAT')
    refused(mgr('predict', wav, '--model', 'Mel2DCNN', '--runs', runs), wav, message)


# ------------------------------------------------------------------ 4 and 7. numbers: budgets, lengths
def refused_before_any_work(argv, tmp_path):
    r = mgr(*argv, env={'MGR_DATA': tmp_path}, timeout=300)
    refused(r, f'mgr {argv[0]}', code=2)
    assert not any(tmp_path.iterdir()), 'a refused command wrote something'


@pytest.mark.parametrize('argv', [('train', '--epochs', '0'), ('train', '--epochs', '-1'), ('train', '--steps', '-1'),
                                  ('train', '--steps', '2.5'), ('reproduce', '--epochs', 'nan'), ('reproduce', '--steps', 'inf'),
                                  ('train', '--steps', '5', '--epochs', '2')])
def test_item04_bad_training_budgets_are_refused_before_any_work(argv, tmp_path): refused_before_any_work(argv, tmp_path)


@pytest.mark.parametrize('argv', [('generate', '--seconds', 'inf'), ('generate', '--seconds', 'nan'), ('generate', '--seconds', '-3'),
                                  ('generate', '--per-genre', '0')])
def test_item07_bad_numbers_are_refused_before_any_work(argv, tmp_path): refused_before_any_work(argv, tmp_path)


# ------------------------------------------------------------------ 5. read-only runs and results folders
def test_item05_read_only_runs_folder_for_training(tmp_path):
    ro = tmp_path/'runs'; ro.mkdir()
    refused(mgr('train', 'Mel2DCNN', '--steps', '1', '--runs', ro, faulty=dict(folders=[ro])), ro, '--runs', 'read-only')
    assert not files_under(ro)


@pytest.mark.parametrize('where', ['out', 'runs'])
def test_item05_read_only_results_or_runs_folder_for_reproduce(tmp_path, where):
    ro = tmp_path/'ro'; ro.mkdir()
    folders = {'out': tmp_path/'out', 'runs': tmp_path/'runs', where: ro/where}
    r = mgr('reproduce', '--steps', '1', '--out', folders['out'], '--runs', folders['runs'], faulty=dict(folders=[ro]))
    refused(r, ro/where, f'--{where}')                   # before the fix: a traceback, after training every network
    assert not files_under(tmp_path)


def test_item05_trained_runs_in_a_read_only_folder_are_used(runs, tmp_path):
    wav = tone(tmp_path/'a.wav', 1.5 * N / SR)
    r = mgr('predict', wav, '--model', 'Mel2DCNN', '--runs', runs, faulty=dict(folders=[runs]))
    assert r.returncode == 0 and r.stdout.startswith(str(wav)), r.stderr[-2000:]
    r = mgr('evaluate', 'Mel2DCNN', '--runs', runs, faulty=dict(folders=[runs]))
    assert r.returncode == 0 and 'top-1' in r.stdout, r.stderr[-2000:]


# ------------------------------------------------------------------ 6. a device this PyTorch cannot use
BAD_DEVICES = ['banana', 'cuda:99', *[d for d in ('cuda', 'mps') if d not in available_devices()]]

@pytest.mark.parametrize('device', BAD_DEVICES)
def test_item06_bad_MGR_DEVICE_is_one_message(tmp_path, device):
    r = mgr('train', 'Mel2DCNN', env={'MGR_DEVICE': device, 'MGR_DATA': tmp_path})
    refused(r, 'MGR_DEVICE', repr(device), 'unset it')
    assert not any(tmp_path.iterdir()), 'a refused command wrote something'


# ------------------------------------------------------------------ 8. the disk fills while a model is saved
def test_item08_disk_full_while_saving_names_the_file(tmp_path):
    runs = tmp_path/'runs'
    r = mgr('train', 'Mel2DCNN', '--steps', '1', '--runs', runs, faulty=dict(folders=[runs], errno=28, match='model'))
    refused(r, runs/'Mel2DCNN'/'model.pt', 'no space left on device', 'free space')
    assert not (runs/'Mel2DCNN'/'model.pt').exists() and not (runs/'Mel2DCNN'/'summary.json').exists()
    assert not [p for p in files_under(runs) if '.tmp' in p.name], 'a temporary file was left behind'


# ------------------------------------------------------------------ 9. unclear messages
def text_as_mp3(tmp_path):
    p = tmp_path/'song.mp3'; p.write_text('these are the lyrics, not the song\n' * 20); return p


def test_item09_text_file_named_mp3(runs, tmp_path):
    p = text_as_mp3(tmp_path)
    r = mgr('predict', p, '--model', 'Mel2DCNN', '--runs', runs)
    refused(r, p, 'not mp3, ogg, wav or flac audio', 're-encode')
    assert 'pipe' not in r.stderr and 'Illegal Audio-MPEG-Header' not in r.stderr, r.stderr     # not libsndfile's guess, nor mpg123's noise
    samples, reason, detail = scan_clip(p)                                                       # the dataset scan says the same
    assert reason == 'undecodable' and 'not mp3, ogg, wav or flac audio' in detail and 'pipe' not in detail


def test_item09_folder_given_to_predict(runs, tmp_path):
    r = mgr('predict', tmp_path, '--model', 'Mel2DCNN', '--runs', runs)
    refused(r, tmp_path, 'is a folder, not an audio file')
    assert 'Format not recognised' not in r.stderr


def test_item09_bad_file_is_named_before_any_model(tmp_path):
    "A missing or non-audio file is the user's first problem: it is named before the models are looked for (none are trained here)."
    empty = tmp_path/'runs'; empty.mkdir()
    for p in (tmp_path/'missing.mp3', text_as_mp3(tmp_path), tmp_path):
        r = mgr('predict', p, '--runs', empty)
        refused(r, p)
        assert 'train' not in r.stderr, r.stderr


def test_item09_unknown_and_untrained_models(runs, tmp_path):
    wav = tone(tmp_path/'a.wav', 1.5 * N / SR)
    refused(mgr('predict', wav, '--model', 'Bogus', '--runs', runs), "'Bogus'", 'Raw1DCNN', 'LateFusionCRNN', 'Ensemble2')
    refused(mgr('predict', wav, '--model', 'Raw1DCNN', '--runs', runs), 'Raw1DCNN has no trained run', 'mgr train Raw1DCNN', 'Mel2DCNN')


def test_item09_dataset_without_a_validation_split(clips, tmp_path):
    data = tmp_path/'novalid'
    shutil.copytree(clips.attrs['root'], data)
    csv = data/'fma_metadata'/'tracks.csv'; csv.write_text(csv.read_text().replace(',validation,', ',training,'))
    r = mgr('train', 'Mel2DCNN', '--steps', '1', '--data', data, '--runs', tmp_path/'runs')
    refused(r, "no clean clip in the 'validation' split", csv)
    assert not files_under(tmp_path/'runs')


# ------------------------------------------------------------------ 10. download: a mirror, and a failure that says what happened
def test_item10_download_mirror_and_dns_failure(tmp_path):
    r = mgr('download', '--dest', tmp_path/'fma', env={'MGR_FMA_URL': 'http://mirror.invalid/fma'}, timeout=300)
    refused(r, 'http://mirror.invalid/fma/fma_metadata.zip', 'MGR_FMA_URL', 'nothing was saved')
    assert '.part' not in r.stderr and not files_under(tmp_path)


# ------------------------------------------------------------------ 11. memory stays bounded however long the file
@pytest.mark.skipif(sys.platform != 'linux', reason='ru_maxrss is in KiB on Linux only')
def test_item11_predict_memory_is_bounded_for_a_long_file(tmp_path):
    "A 20-minute file (212 MB as float32 samples) streams in blocks: peak memory grows by far less than the decoded file."
    long, short = tmp_path/'long.wav', tone(tmp_path/'short.wav', 3 * N / SR)
    with sf.SoundFile(long, 'w', SR, 1, 'PCM_16') as f:
        for i in range(20 * 60):
            t = np.arange(i * SR, (i + 1) * SR) / SR
            f.write((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    r = subprocess.run([sys.executable, '-c', MEASURE, str(long), str(short)], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    before, after, total = map(float, r.stdout.split()[-3:])
    assert total == pytest.approx(1.0, abs=1e-4)
    assert after - before < 100, f"peak memory grew by {after - before:.0f} MiB for a 20-minute file: the file is not streamed"


# ------------------------------------------------------------------ 12. a checkpoint of another network
def test_item12_checkpoint_of_another_network_is_refused(runs, tmp_path):
    swapped = tmp_path/'runs'
    (swapped/'Mel2DCNN').mkdir(parents=True)
    shutil.copy(runs/'MFCC2DCNN'/'model.pt', swapped/'Mel2DCNN'/'model.pt')
    wav = tone(tmp_path/'a.wav', 1.5 * N / SR)
    refused(mgr('predict', wav, '--model', 'Mel2DCNN', '--runs', swapped), swapped/'Mel2DCNN'/'model.pt', 'MFCC2DCNN', 'not a Mel2DCNN')


# ------------------------------------------------------------------ beyond the list: --debug, and no traceback otherwise
@pytest.mark.parametrize('how, env', [((), {}), (('--debug',), {}), ((), {'MGR_DEBUG': '1'})])
def test_debug_shows_the_traceback_only_when_asked(tmp_path, how, env):
    r = mgr(*how, 'predict', tmp_path/'song.mp3', '--runs', tmp_path, env={'MGR_DEBUG': '', **env})     # a file that is not there
    assert r.returncode == 1 and 'song.mp3: no such file' in r.stderr
    assert ('Traceback' in r.stderr) == bool(how or env), r.stderr


# ================================================================== issue 22: a trained network stands without its data, every error
# names its source, no genre for no signal (item 5: test_item03 above), suggested commands run as written
SUGGESTED = re.compile(r'`(mgr [a-z]+[^`]*)`')

def test_issue22_item4_predict_without_the_dataset_and_item6_suggestions_run_as_written(clips, tmp_path):
    "Train a tiny network on a dataset folder, follow the suggestion to train the rest, delete the dataset: predict still works, reading nothing of it."
    data, env = tmp_path/'mydata', {'MGR_DATA': tmp_path/'mgrdata'}
    shutil.copytree(clips.attrs['root'], data)
    wav = tone(tmp_path/'a.wav', 1.5 * N / SR)
    r = mgr('train', 'Mel2DCNN', '--data', data, '--steps', '1', env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    r = mgr('predict', wav, '--data', data, env=env)                     # Ensemble1's members are not trained yet
    refused(r, 'needs trained Raw1DCNN, MFCC2DCNN')
    suggested = SUGGESTED.findall(r.stderr)
    assert suggested and all(f'--data {data}' in c for c in suggested), r.stderr   # before: no --data
    for cmd in suggested:
        argv = shlex.split(cmd)[1:]
        if argv[0] == 'reproduce': continue                               # the whole job: its --data is checked above
        r = mgr(*argv, env=env)
        assert r.returncode == 0, (cmd, r.stderr[-2000:])
    shutil.rmtree(data)                                                   # the dataset is gone; its runs are not
    r = mgr('predict', wav, '--data', data, env=env)
    assert r.returncode == 0, r.stderr[-2000:]                            # before: "tracks.csv not found" (the run folder's key scanned it)
    assert 'Ensemble1 was trained on the dataset mydata' in r.stderr and 'mean over 1 crop of' in r.stderr, r.stderr   # under the bars (stderr)
    assert "synthetic stand-in's made-up genres" not in r.stderr and len(r.stdout.splitlines()) == 1 + len(CFG.genres)
    assert not data.exists() and sorted(p.name for p in (tmp_path/'mgrdata').iterdir()) == ['cache', 'runs']
    r = mgr('predict', wav, env=env)                                      # the default dataset: never trained here, and not generated
    refused(r, 'no trained networks for the dataset synthetic-', 'mgr reproduce')
    assert sorted(p.name for p in (tmp_path/'mgrdata').iterdir()) == ['cache', 'runs'], 'predict generated a dataset'


def test_issue22_item4_runs_copied_to_another_machine_say_what_they_learned(runs, tmp_path, monkeypatch):
    "Runs copied into another data folder are found from their models alone; predict says the dataset, its size, the run's top-1 (from a results.json recording exactly these networks), the crops, and the stand-in's caveat."
    from mgr_course import predict
    from mgr_course.experiment import RESULTS_FORMAT
    monkeypatch.setenv('MGR_DATA', str(tmp_path/'elsewhere'))
    copy = tmp_path/'elsewhere'/'runs'/f'{dataset_root().name}-0123456789'
    shutil.copytree(runs, copy)
    assert predict.find_runs() == copy
    wav = tone(tmp_path/'a.wav', 2.5 * N / SR)
    card = predict.trained_on('Mel2DCNN', path=wav, results=tmp_path/'results')
    assert f'trained on the dataset {dataset_root().name}' in card and 'unknown' in card and 'mean over 2 crops' in card
    assert "learned the synthetic stand-in's made-up genres, not real music" in card and '`mgr reproduce --data fma`' in card
    ident = torch.load(copy/'Mel2DCNN'/'model.pt', weights_only=True)['identity']
    res = dict(format=RESULTS_FORMAT, dataset='synthetic', dataset_root=f'data/{dataset_root().name}', clips=dict(training=27, validation=8, test=8),
               rows={'Mel2DCNN': dict(train=dict(json.loads((copy/'Mel2DCNN'/'summary.json').read_text()), identity=ident),   # its training record, as a results.json holds it
                                      multicrop=dict(top1_accuracy=0.625, top1_ci=[0.31, 0.86]))})
    (tmp_path/'results'/'run').mkdir(parents=True); (tmp_path/'results'/'run'/'results.json').write_text(json.dumps(res))
    card = predict.trained_on('Mel2DCNN', path=wav, results=tmp_path/'results')
    assert '(43 clips: 27 training, 8 validation, 8 test)' in card and '62.5% [31.0, 86.0]' in card, card
    res['rows']['Mel2DCNN']['train']['identity'] = {**ident, 'settings': 'other'}     # another run's results: not claimed for this one
    (tmp_path/'results'/'run'/'results.json').write_text(json.dumps(res))
    assert 'unknown' in predict.trained_on('Mel2DCNN', path=wav, results=tmp_path/'results')


# ------------------------------------------------------------------ item 2: every error names its source
def test_issue22_item2_disk_full_inside_torch_save_names_the_checkpoint_and_option(tmp_path):
    runs = tmp_path/'runs'
    r = mgr('train', 'Mel2DCNN', '--steps', '1', '--runs', runs, faulty=dict(folders=[runs], errno=28, match='checkpoint', after=2000))
    refused(r, runs/'Mel2DCNN'/'checkpoint.pt', 'no space left on device', 'free space', '--runs')
    assert 'enforce fail' not in r.stderr and 'unexpected pos' not in r.stderr, r.stderr      # before: torch's own words only
    assert not [p for p in files_under(runs) if '.tmp' in p.name], 'a temporary file was left behind'


def test_issue22_item2_disk_full_while_generating_names_the_folder_and_MGR_DATA(tmp_path):
    r = mgr('generate', '--per-genre', '3', '--seconds', '7', env={'MGR_DATA': tmp_path},
            faulty=dict(folders=[tmp_path], errno=28, match='.mp3', after=100))
    refused(r, tmp_path, 'no space left on device', 'MGR_DATA')                                 # before: "[Errno 28] No space left on device"
    assert not list(tmp_path.rglob('*.mp3')), 'a half-generated dataset was left behind'


def test_issue22_item2_MGR_DATA_pointing_at_a_file(tmp_path):
    f = tmp_path/'data.txt'; f.write_text('not a folder')
    r = mgr('scan', env={'MGR_DATA': f})
    refused(r, f'MGR_DATA={f}', 'is a file, not a folder')                                      # before: "cannot open the lock file ..."
    assert 'lock' not in r.stderr
