"The `mgr` command line, run as a user runs it: a separate process, IN_TEST sizes, the synthetic default dataset."
import json, os, re, subprocess, sys
from pathlib import Path
import numpy as np, pytest, soundfile as sf
from mgr_course.config import CFG

ROOT = Path(__file__).resolve().parents[1]
MGR = [str(Path(sys.executable).parent/'mgr')]   # the console script pip installed, as a user runs it
COMMANDS = ['download', 'generate', 'scan', 'train', 'evaluate', 'ensemble', 'predict', 'reproduce']

def mgr(*args, check=True, env=None, **kw):
    r = subprocess.run([*MGR, *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, 'IN_TEST': '1', **(env or {})}, timeout=1200, **kw)
    if check: assert r.returncode == 0, f"mgr {' '.join(map(str, args))} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r

@pytest.mark.parametrize('command', COMMANDS)
def test_every_subcommand_has_help(command):
    r = mgr(command, '--help')
    assert r.stdout.startswith(f'usage: mgr {command}')

def test_unknown_network_is_named():
    r = mgr('train', 'VGG16', check=False)
    assert r.returncode != 0 and 'unknown network VGG16' in r.stderr

@pytest.fixture(scope='module')
def reproduced(tmp_path_factory):
    "The main job at test sizes, into a temporary results folder (the run folders are shared with the chapters)."
    out = tmp_path_factory.mktemp('results')
    r = mgr('reproduce', '--out', out)
    return out, r

def test_reproduce_writes_table1(reproduced):
    out, r = reproduced
    assert 'Table I' in r.stdout and 'Ensemble2' in r.stdout
    res = json.loads((out/'results.json').read_text())
    assert set(res['rows']) == {'Raw1DCNN', 'Mel2DCNN', 'MFCC2DCNN', 'LateFusionCRNN', 'Ensemble1', 'Ensemble2', 'MFCCBaseline'}
    for row in res['rows'].values():
        for crops in ('center', 'multicrop'):
            assert 0 <= row[crops]['top1_accuracy'] <= 1
            assert np.array(row[crops]['confusion']).sum() == row[crops]['n'] > 0
    for f in ('table1.md', 'learning_curves.png', 'confusion.png'): assert (out/f).stat().st_size > 0, f
    assert not list(out.glob('.*tmp*')), 'a temporary file was left behind'

def predict_lines(stdout):
    "mgr predict's answer line and its (genre, percent) lines."
    first, *rest = stdout.strip().splitlines()
    return first, [(l.split()[0], float(l.split()[1].rstrip('%'))) for l in rest]

def test_predict_on_a_generated_clip(reproduced, tmp_path):
    "The answer is the most likely genre by the model's own probabilities (catches printing the least likely one, or"
    " the first genre), the lines are sorted, every genre is listed once, and the default model is named."
    from mgr_course.predict import clip_probabilities
    sr = 44_100
    t = np.arange(8*sr)/sr
    wav = tmp_path/'tone.wav'; sf.write(wav, 0.3*np.sin(2*np.pi*220*t)*(1 + np.sin(2*np.pi*2*t)), sr)
    r = mgr('predict', wav)
    first, rows = predict_lines(r.stdout)
    default = CFG.ensembles[0][0]
    probs = clip_probabilities(wav, names=[default]).loc[default]        # the library's answer, in this process
    assert first == f'{wav}: {probs.idxmax()} ({default})'
    assert [g for g, _ in rows] == list(probs.sort_values(ascending=False).index)
    assert sorted(g for g, _ in rows) == sorted(CFG.genres) and rows[0][0] == probs.idxmax()
    pct = [v for _, v in rows]
    assert pct == sorted(pct, reverse=True) and abs(sum(pct) - 100) < 1.0
    np.testing.assert_allclose(pct, 100*probs.sort_values(ascending=False).to_numpy(), atol=0.051)
    from mgr_course.cli import parser
    assert parser().parse_args(['predict', str(wav)]).model == default                  # the model named is the one used

def test_predict_on_a_real_recording(reproduced, fixtures_dir):
    ogg = sorted((fixtures_dir/'real_music').glob('*.ogg'))[0]
    r = mgr('predict', ogg, '--model', 'Mel2DCNN')
    first, rows = predict_lines(r.stdout)
    assert first == f'{ogg}: {rows[0][0]} (Mel2DCNN)' and len(rows) == CFG.n_classes
    assert [v for _, v in rows] == sorted((v for _, v in rows), reverse=True)

def metrics_line(stdout, name):
    "The numbers of `name`'s line of mgr evaluate / mgr ensemble: top-1, one-vs-rest, precision, recall, F1, crops, n."
    line = next(l for l in stdout.splitlines() if l.strip().startswith(f'{name}:'))
    m = re.fullmatch(rf'\s*{name}: top-1 +([\d.]+)% \| one-vs-rest acc\. +([\d.]+)% \| precision +([\d.]+)% \| '
                     rf'recall +([\d.]+)% \| F1 +([\d.]+)%  \((\w+) crops, n=(\d+)\)', line)
    assert m, line
    return [float(x) for x in m.groups()[:5]], m.group(6), int(m.group(7))

def expect_line(got, r):
    nums, crops, n = got
    assert (crops, n) == (r['crops'], r['n'])
    np.testing.assert_allclose(nums, [100*r[k] for k in ('top1_accuracy', 'one_vs_rest_accuracy', 'macro_precision', 'macro_recall',
                                                          'paper_f1')], atol=0.051)

def test_evaluate_all_crops_on_validation(reproduced):
    "The options reach the evaluation: all crops of the validation split (catches --crops or --split being ignored)."
    from mgr_course.data import clip_table
    from mgr_course.learner import load_trained, runs_dir
    from mgr_course.evaluation import evaluate
    r = mgr('evaluate', 'Mel2DCNN', '--crops', 'all', '--split', 'validation')
    clips = clip_table(progress=False)
    want = evaluate(load_trained(runs_dir(CFG, clips)/'Mel2DCNN', name='Mel2DCNN'), clips, 'validation', crops='all', progress=False)
    assert want['n'] == (clips.split == 'validation').sum() and want['crops'] == 'all'
    expect_line(metrics_line(r.stdout, 'Mel2DCNN'), want)
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and 'balanced acc.' in lines[1]                   # the metrics, then the intervals and the balanced metrics
    assert f"balanced acc. {100 * want['balanced_accuracy']:5.1f}%" in lines[1] and f"macro-F1 {100 * want['macro_f1']:5.1f}%" in lines[1]

def test_ensemble_prints_both_ensembles(reproduced):
    from mgr_course.data import clip_table
    from mgr_course.ensemble import load_ensemble
    from mgr_course.evaluation import evaluate
    r = mgr('ensemble')
    clips = clip_table(progress=False)
    for name, _ in CFG.ensembles:
        expect_line(metrics_line(r.stdout, name), evaluate(load_ensemble(name), clips, 'test', progress=False))

def test_scan_reports_what_it_excluded(reproduced):
    "mgr scan's counts are the scan's: every clip the stand-in damaged on purpose is listed with its reason."
    from mgr_course.data import scan_dataset, cleaning_report
    r = mgr('scan')
    s = scan_dataset(progress=False); bad = cleaning_report(s)
    lines = r.stdout.splitlines()
    assert lines[0] == f"{len(s)} clips scanned in {s.attrs['root']}: {len(s) - len(bad)} usable, {len(bad)} excluded"
    assert len(bad) > 0                                      # the stand-in holds damaged clips on purpose
    for tid, reason in bad.reason.items(): assert any(l.split()[:1] == [str(tid)] and reason in l for l in lines), (tid, reason)
    table = lines[-len(CFG.genres) - 2:]                     # clean clips per genre (rows) and split (columns)
    assert table[0].split() == ['split', 'test', 'training', 'validation']
    counts = {l.split()[0]: [int(x) for x in l.split()[1:]] for l in table[2:]}
    good = s[s.reason == '']
    assert counts == {g: [int(((good.genre == g) & (good.split == sp)).sum()) for sp in ('test', 'training', 'validation')]
                      for g in sorted(CFG.genres)}

def test_train_says_what_it_did(tmp_path):
    "The success line of mgr train: the summary of the run it wrote, with --steps honoured."
    r = mgr('train', 'MFCC2DCNN', '--steps', '2', '--runs', tmp_path)
    s = json.loads((tmp_path/'MFCC2DCNN'/'summary.json').read_text())
    assert s['steps'] == 2
    first, last = r.stdout.strip().splitlines()
    assert first == (f"MFCC2DCNN: 2 steps ({s['epochs']} epochs), weights of epoch {s['best_epoch']} kept (validation loss "
                     f"{s['best_valid_loss']:.3f}); run folder {tmp_path/'MFCC2DCNN'}")
    assert last.startswith('caches: ') and 'mgr cache --clear' in last                 # what the caches hold, and how to delete them

def test_generate_says_where(tmp_path):
    "mgr generate with its options: the folder it names holds that many clips of that length."
    from mgr_course.data import load_tracks, subset_clips
    r = mgr('generate', '--per-genre', '3', '--seconds', '6.5', '--seed', '3', env={'MGR_DATA': str(tmp_path)})
    line = r.stdout.strip()
    assert line.startswith('synthetic dataset ready in ') and len(line.splitlines()) == 1
    root = Path(line.removeprefix('synthetic dataset ready in '))
    assert root.parent == tmp_path and 'seed3' in root.name
    clips = subset_clips(load_tracks(root/'fma_metadata'/'tracks.csv'))
    assert len(clips) == 3*CFG.n_classes
    durations = []
    for f in root.glob('fma_small/*/*.*'):
        try: durations.append(sf.info(f).duration)
        except sf.LibsndfileError: pass                          # the few clips the stand-in damages on purpose
    assert len(durations) >= 2*CFG.n_classes and np.median(durations) == pytest.approx(6.5, abs=0.2)

@pytest.mark.parametrize('content', [b'', b'this is not audio at all' * 10])
def test_predict_on_a_bad_file(reproduced, tmp_path, content):
    bad = tmp_path/'bad.mp3'; bad.write_bytes(content)
    r = mgr('predict', bad, check=False)
    assert r.returncode != 0 and str(bad) in r.stderr and 'Traceback' not in r.stderr

def test_predict_on_a_too_short_file(reproduced, tmp_path):
    short = tmp_path/'short.wav'; sf.write(short, np.zeros(44_100, np.float32) + 0.1, 44_100)
    r = mgr('predict', short, check=False)
    assert r.returncode != 0 and 'at least one crop' in r.stderr
