"The `mgr` command line, run as a user runs it: a separate process, IN_TEST sizes, the synthetic default dataset."
import json, os, subprocess, sys
from pathlib import Path
import numpy as np, pytest, soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
MGR = [str(Path(sys.executable).parent/'mgr')]   # the console script pip installed, as a user runs it
COMMANDS = ['download', 'generate', 'scan', 'train', 'evaluate', 'ensemble', 'predict', 'reproduce']

def mgr(*args, check=True, **kw):
    r = subprocess.run([*MGR, *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, 'IN_TEST': '1'}, timeout=1200, **kw)
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

def test_predict_on_a_generated_clip(reproduced, tmp_path):
    sr = 44_100
    t = np.arange(8*sr)/sr
    wav = tmp_path/'tone.wav'; sf.write(wav, 0.3*np.sin(2*np.pi*220*t)*(1 + np.sin(2*np.pi*2*t)), sr)
    r = mgr('predict', wav)
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith(str(wav)) and len(lines) == 9
    total = sum(float(l.split()[1].rstrip('%')) for l in lines[1:])
    assert abs(total - 100) < 1.0

def test_predict_on_a_real_recording(reproduced, fixtures_dir):
    ogg = next((fixtures_dir/'real_music').glob('*.ogg'))
    r = mgr('predict', ogg, '--model', 'Mel2DCNN')
    assert r.stdout.startswith(str(ogg))

@pytest.mark.parametrize('content', [b'', b'this is not audio at all' * 10])
def test_predict_on_a_bad_file(reproduced, tmp_path, content):
    bad = tmp_path/'bad.mp3'; bad.write_bytes(content)
    r = mgr('predict', bad, check=False)
    assert r.returncode != 0 and str(bad) in r.stderr and 'Traceback' not in r.stderr

def test_predict_on_a_too_short_file(reproduced, tmp_path):
    short = tmp_path/'short.wav'; sf.write(short, np.zeros(44_100, np.float32) + 0.1, 44_100)
    r = mgr('predict', short, check=False)
    assert r.returncode != 0 and 'at least one crop' in r.stderr
