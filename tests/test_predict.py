"Prediction for a file (chapter 09a): bad files, silence and NaN refused by name (memory on a long file: test_faults item 11)."
import subprocess, sys, textwrap
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from mgr_course.config import CFG
from mgr_course.data import AudioError
from mgr_course import predict
from mgr_course.predict import stream_crops, clip_probabilities, audio_samples

ROOT = Path(__file__).resolve().parents[1]
SR, N = CFG.sample_rate, CFG.crop_samples


def tone(path, seconds, sr=SR, amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (amp * np.sin(2 * np.pi * 330 * t)).astype(np.float32), sr)
    return path


@pytest.mark.parametrize('make, message', [
    (lambda p: sf.write(p, np.zeros(2 * N, np.float32), SR), 'digital silence'),
    (lambda p: sf.write(p, np.full(2 * N, 5e-5, np.float32), SR, subtype='FLOAT'), 'digital silence'),
    (lambda p: sf.write(p, np.where(np.arange(2 * N) == N + 3, np.nan, 0.1).astype(np.float32), SR, subtype='FLOAT'), 'NaN or infinite'),
    (lambda p: sf.write(p, np.where(np.arange(2 * N) == 7, np.inf, 0.1).astype(np.float32), SR, subtype='FLOAT'), 'NaN or infinite'),
    (lambda p: tone(p, 0.5 * N / SR), 'needs at least one crop'),
    (lambda p: p.write_bytes(b''), 'cannot be decoded'),
    (lambda p: p.write_bytes(b'not audio at all' * 100), 'cannot be decoded'),
])
def test_bad_files_are_refused_by_name(tmp_path, make, message):
    path = tmp_path/'clip.wav'
    make(path)
    with pytest.raises(AudioError, match=message) as e: list(stream_crops(path))
    assert str(path) in str(e.value)


def test_missing_file_and_missing_runs(tmp_path):
    with pytest.raises(AudioError, match='no such file'): list(stream_crops(tmp_path/'nothing.wav'))
    with pytest.raises(FileNotFoundError, match='no trained networks'): clip_probabilities(tone(tmp_path/'a.wav', 7), runs=tmp_path)


def test_resampled_file_streams_the_same_crops_as_a_whole_decode(tmp_path):
    "A 22.05 kHz file: the header length at 44.1 kHz and the windowed decodes agree with decoding the file whole."
    from mgr_course.data import load_audio, crop_offsets
    path = tone(tmp_path/'low.wav', 3.3 * N / SR, sr=22_050)
    whole = load_audio(path, SR)
    assert abs(audio_samples(path) - len(whole)) <= 1
    crops = torch.cat(list(stream_crops(path, block=2)))
    offsets = crop_offsets(audio_samples(path), N)
    assert len(crops) == len(offsets) == 3
    for c, o in zip(crops, offsets): np.testing.assert_allclose(c[0].numpy(), whole[o:o + N], atol=1e-4)


def test_clip_probabilities_every_model(tmp_path, monkeypatch):
    "Networks and ensembles side by side on one decode: rows sum to 1 and an ensemble's row is its members' mean."
    from mgr_course.models import build_model, Ensemble
    torch.manual_seed(0)
    nets = {n: build_model(n).eval() for n in ('Mel2DCNN', 'MFCC2DCNN')}
    models = {**nets, 'Both': Ensemble(list(nets.values()))}
    monkeypatch.setattr(predict, 'load_model', lambda name, runs=None, cfg=None: models[name])
    p = clip_probabilities(tone(tmp_path/'a.wav', 2.5 * N / SR), runs=tmp_path, names=list(models), block=1)
    assert list(p.index) == list(models) and list(p.columns) == list(CFG.genres)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(p.loc['Both'], p.loc[['Mel2DCNN', 'MFCC2DCNN']].mean(), rtol=1e-4)


MEASURE = textwrap.dedent('''
    import resource, sys, torch
    from torch import nn
    from mgr_course.evaluation import crop_probabilities
    from mgr_course.predict import stream_crops
    class FirstSamples(nn.Module):
        def forward(self, x): return x[:, 0, :8]
    rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024    # MiB on Linux
    crop_probabilities(FirstSamples(), stream_crops(sys.argv[2]))               # warm up on a short file
    before = rss()
    p = crop_probabilities(FirstSamples(), stream_crops(sys.argv[1]))
    print(before, rss(), float(p.sum()))
''')


# ------------------------------------------------------------------ loading, listing and describing trained models, in process
# (issue 23 item 4: the mutants of predict that `mgr predict` in a separate process reached, but no test in process did)
from mgr_course.config import GENRES
from mgr_course.files import atomic_write
from mgr_course.learner import CHECKPOINT_FORMAT, settings_digest
from mgr_course.models import build_model, Ensemble, network_names

FOUR = CFG.replace(genres=GENRES[:4])           # a config whose networks have 4 outputs: a model built from another config does not load


def save_run(runs: Path, name: str, cfg=FOUR, seed: int = 0, **identity) -> dict:
    "A finished run of `name` in `runs/name` (model.pt only, random weights): its state dict."
    torch.manual_seed(seed)
    sd = build_model(name, cfg).state_dict()
    (runs/name).mkdir(parents=True, exist_ok=True)
    atomic_write(runs/name/'model.pt', dict(format=CHECKPOINT_FORMAT, model=sd,
                                            identity=dict(network=name, dataset='task', settings=settings_digest(cfg), **identity)))
    return sd


@pytest.fixture
def runs(tmp_path):
    "Mel2DCNN and MFCC2DCNN trained (random weights) for the 4-genre config, in a folder named as training names it."
    runs = tmp_path/'data'/'runs'/'mydata-0123456789'
    for i, n in enumerate(('Mel2DCNN', 'MFCC2DCNN')): save_run(runs, n, seed=i)
    return runs


def test_load_model_a_network_with_its_config(runs):
    m = predict.load_model('Mel2DCNN', runs, FOUR)
    assert not m.training and m.name == 'Mel2DCNN'
    torch.manual_seed(0); want = build_model('Mel2DCNN', FOUR).state_dict()
    assert all(torch.equal(v, want[k]) for k, v in m.state_dict().items())
    with pytest.raises(RuntimeError): predict.load_model('Mel2DCNN', runs)          # the default config's 8 genres: not this model


def test_load_model_an_ensemble_and_what_is_untrained(runs):
    cfg = FOUR.replace(ensembles=(('Pair', ('Mel2DCNN', 'MFCC2DCNN')), ('Ensemble1', ('Raw1DCNN', 'Mel2DCNN'))))
    e = predict.load_model('Pair', runs, cfg)
    assert isinstance(e, Ensemble) and e.names == ['Mel2DCNN', 'MFCC2DCNN'] and not e.training
    msg = (f"Raw1DCNN has no trained run in {runs}: train it first (`mgr train Raw1DCNN` or `mgr reproduce`); "
           f"trained there: Mel2DCNN, MFCC2DCNN, Pair")
    with pytest.raises(FileNotFoundError) as err: predict.load_model('Raw1DCNN', runs, cfg)
    assert str(err.value) == msg
    with pytest.raises(FileNotFoundError, match=r'^Ensemble1 needs trained Raw1DCNN in '): predict.load_model('Ensemble1', runs, cfg)
    with pytest.raises(FileNotFoundError, match=r"trained there: none$"): predict.load_model('Raw1DCNN', runs.parent/'empty', cfg)
    with pytest.raises(ValueError) as err: predict.load_model('VGG16', runs, cfg)
    assert str(err.value) == f"'VGG16' is neither a network nor an ensemble: choose one of {', '.join([*network_names(), 'Pair', 'Ensemble1'])}"


def test_check_model_and_trained_models(runs, monkeypatch):
    assert predict.check_model('Mel2DCNN') == 'Mel2DCNN' and predict.check_model('Ensemble2') == 'Ensemble2'
    assert predict.check_model('Pair', CFG.replace(ensembles=(('Pair', ('Mel2DCNN',)),))) == 'Pair'    # the given config's ensembles
    with pytest.raises(ValueError, match='neither'): predict.check_model('Pair')
    assert predict.trained_models(runs, FOUR) == ['Mel2DCNN', 'MFCC2DCNN']           # no ensemble has all its members
    save_run(runs, 'Raw1DCNN')
    assert predict.trained_models(runs, FOUR) == ['Raw1DCNN', 'Mel2DCNN', 'MFCC2DCNN', 'Ensemble1']
    assert predict.trained_models(runs, FOUR.replace(ensembles=(('Two', ('Mel2DCNN', 'LateFusionCRNN')),))) == ['Raw1DCNN', 'Mel2DCNN', 'MFCC2DCNN']
    monkeypatch.setenv('MGR_DATA', str(runs.parents[1]))                              # runs=None: found from the saved models
    assert predict.trained_models(cfg=FOUR.replace(dataset=str(runs.parents[2]/'mydata'))) == ['Raw1DCNN', 'Mel2DCNN', 'MFCC2DCNN', 'Ensemble1']


def test_clip_probabilities_of_the_trained_models(runs, tmp_path):
    wav = tone(tmp_path/'a.wav', 2.2 * N / SR)
    p = clip_probabilities(wav, runs, FOUR)
    assert list(p.index) == ['Mel2DCNN', 'MFCC2DCNN'] and list(p.columns) == list(GENRES[:4])
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    model = predict.load_model('MFCC2DCNN', runs, FOUR)
    with torch.no_grad(): want = torch.softmax(model(torch.cat(list(stream_crops(wav)))).float(), 1).mean(0)
    np.testing.assert_allclose(p.loc['MFCC2DCNN'].to_numpy(), want.numpy(), atol=5e-3)          # bf16 autocast on a CPU that has it
    assert list(clip_probabilities(wav, runs, FOUR, names=['MFCC2DCNN'], block=1).index) == ['MFCC2DCNN']
    np.testing.assert_allclose(clip_probabilities(wav, runs, FOUR, names=['MFCC2DCNN'], block=1).loc['MFCC2DCNN'], p.loc['MFCC2DCNN'], atol=5e-3)
    with pytest.raises(FileNotFoundError) as err: clip_probabilities(wav, tmp_path, FOUR)
    assert str(err.value) == f"no trained networks in {tmp_path}: run `mgr reproduce` (or `mgr train`) first"
    with pytest.raises(AudioError, match='no such file'): clip_probabilities(tmp_path/'none.wav', tmp_path/'no runs')   # the file first


def test_side_by_side_stacks_the_models_outputs():
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    x = torch.randn(5, 3)
    out = predict.SideBySide([a, b])(x)
    assert out.shape == (5, 2, 2) and torch.equal(out[:, 0], a(x)) and torch.equal(out[:, 1], b(x))


def test_stream_crops_blocks_and_a_constant_signal(tmp_path):
    wav = tone(tmp_path/'a.wav', 5.5 * N / SR)
    blocks = list(stream_crops(wav, block=2))
    assert [tuple(b.shape) for b in blocks] == [(2, 1, N), (2, 1, N), (1, 1, N)]
    assert audio_samples(wav) == int(5.5 * N)
    assert audio_samples(wav, SR // 2) == int(5.5 * N) // 2
    p = tmp_path/'dc.wav'; sf.write(p, np.full(2 * N, 0.25, np.float32), SR, subtype='FLOAT')
    with pytest.raises(AudioError) as err: list(stream_crops(p))
    assert str(err.value) == (f"{p}: a constant level (peak 0.25, but every crop's deviation from its mean is below 1e-04): "
                              "the file holds no usable audio signal, so there is no music to classify")
    p = tmp_path/'one.wav'; y = np.full(3 * N, 0.25, np.float32); y[2 * N + 5] = 0.9; sf.write(p, y, SR, subtype='FLOAT')
    assert len(list(stream_crops(p, block=1))) == 3                               # one crop with a signal is enough
    p = tmp_path/'quiet.wav'; sf.write(p, np.full(2 * N, 2e-5, np.float32), SR, subtype='FLOAT')
    with pytest.raises(AudioError, match=r'digital silence \(peak 2\.0e-05 < 1e-04\): the file holds no usable audio signal'): list(stream_crops(p))
    p = tmp_path/'short.wav'; tone(p, 0.5)
    with pytest.raises(AudioError) as err: list(stream_crops(p))
    assert str(err.value) == f"{p}: 0.50 s of audio, but a prediction needs at least one crop of {CFG.crop_seconds:.2f} s"


def write_results(folder: Path, runs: Path, rows: dict, dataset='synthetic') -> Path:
    from mgr_course.experiment import RESULTS_FORMAT
    ids = {m: torch.load(runs/m/'model.pt', weights_only=True)['identity'] for m in ('Mel2DCNN', 'MFCC2DCNN')}
    res = dict(format=RESULTS_FORMAT, dataset=dataset, dataset_root='data/other-name', clips=dict(training=1200, validation=8, test=9),
               rows={n: dict(train=dict(identity=ids.get(n, {})), multicrop=dict(top1_accuracy=a, top1_ci=[a - 0.1, a + 0.05])) for n, a in rows.items()})
    (folder/'run').mkdir(parents=True, exist_ok=True); (folder/'run'/'results.json').write_text(__import__('json').dumps(res))
    return folder/'run'/'results.json'


def test_trained_on_says_what_the_probabilities_stand_on(runs, tmp_path):
    wav = tone(tmp_path/'a.wav', 2.2 * N / SR)
    none = tmp_path/'no results'
    assert predict.trained_on('Mel2DCNN', runs, FOUR, results=none) == (
        "Mel2DCNN was trained on the dataset mydata (its clips and test accuracy are unknown: no results.json records these networks; "
        "`mgr evaluate Mel2DCNN --crops all` measures them).")
    cfg = FOUR.replace(ensembles=(('Pair', ('Mel2DCNN', 'MFCC2DCNN')),))
    assert predict.trained_on('Pair', runs, cfg, path=wav, results=none).splitlines() == [
        "Pair was trained on the dataset mydata (its clips and test accuracy are unknown: no results.json records these networks; "
        "`mgr ensemble Pair --crops all` measures them).", f"The probabilities are the mean over 2 crops of {CFG.crop_seconds:.2f} s of a.wav."]
    one = tone(tmp_path/'b.wav', 1.2 * N / SR)
    assert predict.trained_on('Mel2DCNN', runs, FOUR, path=one, results=none).splitlines()[1] == f"The probabilities are the mean over 1 crop of {CFG.crop_seconds:.2f} s of b.wav."
    other = runs.parent/'my runs'; runs.rename(other)
    assert predict.trained_on('Mel2DCNN', other, FOUR, results=none).startswith(f"Mel2DCNN was trained on a dataset not named by its run folder {other} (")
    synth = runs.parent/'synthetic-6x8s-4-1-1-seed0-0123456789'; other.rename(synth)
    card = predict.trained_on('Mel2DCNN', synth, FOUR, results=none).splitlines()
    assert card[1] == ("These networks learned the synthetic stand-in's made-up genres, not real music: on a real recording their genre means little. "
                       "To train them on FMA: `mgr download`, then `mgr reproduce --data fma`.") and len(card) == 2


def test_trained_on_quotes_the_results_that_record_exactly_these_networks(runs, tmp_path):
    results = tmp_path/'results'
    p = write_results(results, runs, {'Mel2DCNN': 0.625, 'MFCC2DCNN': 0.5, 'Pair': 0.75}, dataset='fma')
    cfg = FOUR.replace(ensembles=(('Pair', ('Mel2DCNN', 'MFCC2DCNN')),))
    assert predict.trained_on('Mel2DCNN', runs, cfg, results=results) == (
        f"Mel2DCNN was trained on the dataset other-name (1,217 clips: 1,200 training, 8 validation, 9 test); its test top-1 there, all crops averaged: "
        f"62.5% [52.5, 67.5] (95% Wilson, {p})." )
    assert '75.0% [65.0, 80.0]' in predict.trained_on('Pair', runs, cfg, results=results)
    write_results(results, runs, {'Pair': 0.75, 'Mel2DCNN': 0.6}, dataset='synthetic')         # MFCC2DCNN's row missing: Pair is not claimed
    assert 'unknown' in predict.trained_on('Pair', runs, cfg, results=results)
    assert "synthetic stand-in's made-up genres" in predict.trained_on('Mel2DCNN', runs, cfg, results=results)   # the results' dataset
    (results/'bad').mkdir(); (results/'bad'/'results.json').write_text('{not json')                 # a damaged one is passed over
    assert '60.0%' in predict.trained_on('Mel2DCNN', runs, cfg, results=results)
    (results/'norows').mkdir(); (results/'norows'/'results.json').write_text(__import__('json').dumps(dict(format=__import__('mgr_course.experiment').experiment.RESULTS_FORMAT)))
    assert '60.0%' in predict.trained_on('Mel2DCNN', runs, cfg, results=results)                  # one without rows: passed over too
    (runs/'MFCC2DCNN'/'model.pt').write_bytes(b'damaged')
    assert 'unknown' in predict.trained_on('Pair', runs, cfg, results=results)


def test_runs_found_for_the_given_config(runs, tmp_path, monkeypatch):
    "runs=None: the runs trained with the given config on its dataset (by the folder's name), for load_model and trained_on alike."
    monkeypatch.setenv('MGR_DATA', str(runs.parents[1]))
    cfg = FOUR.replace(dataset=str(tmp_path/'mydata'))                            # the dataset itself need not be there
    assert predict.load_model('Mel2DCNN', cfg=cfg).name == 'Mel2DCNN'
    assert predict.trained_on('Mel2DCNN', cfg=cfg, results=tmp_path).startswith('Mel2DCNN was trained on the dataset mydata (')
    with pytest.raises(FileNotFoundError, match='no trained networks for the dataset synthetic-'): predict.load_model('Mel2DCNN', cfg=FOUR)
    save_run(runs.parent/'other-0123456789', 'MFCC2DCNN'); (runs.parent/'other-0123456789'/'MFCC2DCNN').rename(runs/'Mel2DCNN.tmp')
    (runs/'Mel2DCNN'/'model.pt').unlink(); (runs/'Mel2DCNN.tmp'/'model.pt').rename(runs/'Mel2DCNN'/'model.pt')
    with pytest.raises(ValueError, match='holds a trained MFCC2DCNN, not a Mel2DCNN'): predict.load_model('Mel2DCNN', runs, FOUR)


@pytest.fixture
def clips(tmp_path):
    "A clip table of four test clips (three genres, the first twice) and one training clip, as wav files."
    rows = []
    for i, (g, s) in enumerate([(GENRES[0], 'test'), (GENRES[0], 'test'), (GENRES[3], 'test'), (GENRES[1], 'test'), (GENRES[2], 'training')]):
        path = tone(tmp_path/f'{i}.wav', 1.5 * N / SR, amp=0.1 * (i + 1))
        rows.append(dict(track_id=10 + i, genre=g, label=i, split=s, path=str(path), samples=int(1.5 * N)))
    return pd.DataFrame(rows).set_index('track_id')


PAIR = FOUR.replace(ensembles=(('Pair', ('Mel2DCNN', 'MFCC2DCNN')),))     # its card is about Pair, the default config's about MFCC2DCNN


def test_bars_and_listen(runs, clips):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    p = clip_probabilities(clips.path.iloc[0], runs, FOUR)
    ax = predict._bars(p, 'the title')
    assert ax.get_ylim() == (0, 1) and ax.get_ylabel() == 'probability' and ax.get_title(loc='left') == 'the title'
    assert len(ax.patches) == p.size and [t.get_text() for t in ax.get_xticklabels()] == list(GENRES[:4])
    assert [t.get_rotation() for t in ax.get_xticklabels()] == [0] * 4 and [t.get_text() for t in ax.get_legend().get_texts()] == list(p.index)
    np.testing.assert_allclose(sorted(r.get_height() for r in ax.patches), sorted(p.to_numpy().ravel()), rtol=1e-6)
    np.testing.assert_allclose([r.get_width() for r in ax.patches], 0.8 / len(p))             # the bars of a genre fill 0.8 of its slot
    assert tuple(ax.figure.get_size_inches()) == (10, 3)
    _, given = plt.subplots()
    assert predict._bars(p, 'there', ax=given) is given and given.get_title(loc='left') == 'there'   # drawn where it is asked
    plt.close('all')
    import io
    from mgr_course.data import load_audio, center_crop_offset
    a, n = predict._listen(clips.iloc[1], CFG), int(CFG.crop_seconds * 22_050)
    want = load_audio(clips.path.iloc[1], 22_050, offset=center_crop_offset(int(1.5 * N) * 22_050 // SR, n), frames=n)
    y, rate = sf.read(io.BytesIO(a.data), dtype='float32')                        # the player's wav: the centre crop at 22.05 kHz
    assert rate == 22_050 and len(y) == n
    np.testing.assert_allclose(y, want / np.abs(want).max(), atol=1e-3)          # IPython's Audio scales to the peak
    assert sf.info(io.BytesIO(predict._listen(clips.iloc[1], CFG, sr=8000).data)).samplerate == 8000


def test_card(runs, tmp_path):
    synth = runs.parent/'synthetic-6x8s-4-1-1-seed0-0123456789'; runs.rename(synth)      # a two-line trained_on: one line here
    assert predict._card(synth, PAIR) == predict.trained_on('Pair', synth, PAIR).replace('\n', ' ') and 'Pair was trained' in predict._card(synth, PAIR)
    assert '\n' not in predict._card(synth, PAIR) and 'stand-in' in predict._card(synth, PAIR)
    assert predict._card(synth, FOUR).startswith('MFCC2DCNN was trained')
    assert predict._card(tmp_path/'empty', FOUR) == ''


def shows(monkeypatch) -> list:
    "What `display` is given, from now on (instead of showing it)."
    shown = []
    monkeypatch.setattr('IPython.display.display', lambda *a: shown.extend(a))
    return shown


def titles() -> list:
    import matplotlib.pyplot as plt
    return [ax.get_title(loc='left') for i in plt.get_fignums() for ax in plt.figure(i).axes]


def test_playground_static(runs, clips, monkeypatch):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from IPython.display import Audio
    shown = shows(monkeypatch)
    out = predict.playground_static(clips, PAIR, runs, n=2)
    assert list(out.index.names) == ['track_id', 'model'] and list(out.index.get_level_values(0).unique()) == [10, 12]   # one clip a genre
    assert list(out.columns) == list(GENRES[:4]) and len(out) == 6
    np.testing.assert_allclose(out.loc[12].to_numpy(), clip_probabilities(clips.path.loc[12], runs, PAIR).to_numpy(), rtol=1e-5)
    texts = [getattr(s, 'data', '') for s in shown]
    assert texts[:2] == ["*Static view: in JupyterLab, `playground()` lets you choose any clip.*", predict._card(runs, PAIR)]
    assert f'**Track 12** (true genre: {GENRES[3]})' in texts and sum(isinstance(s, Audio) for s in shown) == 2
    assert titles() == [f'track 10: true genre {GENRES[0]}', f'track 12: true genre {GENRES[3]}']
    plt.close('all')
    assert list(predict.playground_static(clips, PAIR, runs).index.get_level_values(0).unique()) == [10, 12, 13]   # n=3
    assert list(predict.playground_static(clips, PAIR, runs, split='training').index.get_level_values(0).unique()) == [14]
    seen = []
    monkeypatch.setattr(predict, 'clip_table', lambda cfg, progress=True: seen.append((cfg, progress)) or clips)
    assert len(predict.playground_static(cfg=PAIR, runs=runs, n=1)) == 3 and seen == [(PAIR, False)]   # no table given: the config's
    plt.close('all')


def test_playground_widget(runs, clips, monkeypatch):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from IPython.display import Audio
    shown = shows(monkeypatch)
    w = predict.playground(clips, PAIR, runs)
    card, pick, out = w.children
    assert card.value == predict._card(runs, PAIR) and pick.description == 'clip'
    assert pick.options == ((f'10 ({GENRES[0]})', 10), (f'11 ({GENRES[0]})', 11), (f'12 ({GENRES[3]})', 12), (f'13 ({GENRES[1]})', 13)) and pick.value == 10
    assert len(shown) == 1 and isinstance(shown[0], Audio)                        # the first clip, at once
    seen, drawn = [], []; shown.clear()
    monkeypatch.setattr(predict, 'clip_probabilities', lambda path, runs_, cfg: seen.append((path, runs_, cfg)) or clip_probabilities(path, runs_, cfg))
    monkeypatch.setattr(predict, '_bars', lambda p, title, ax=None: drawn.append((list(p.index), title)))
    pick.value = 12
    assert seen == [(clips.path.loc[12], runs, PAIR)] and drawn == [(['Mel2DCNN', 'MFCC2DCNN', 'Pair'], f'true genre: {GENRES[3]}')]
    assert len(shown) == 1 and isinstance(shown[0], Audio)
    assert [t for t, _ in predict.playground(clips, PAIR, runs, split='training').children[1].options] == [f'14 ({GENRES[2]})']
    tables = []
    monkeypatch.setattr(predict, 'clip_table', lambda cfg, progress=True: tables.append((cfg, progress)) or clips)
    assert len(predict.playground(cfg=PAIR, runs=runs).children[1].options) == 4 and tables == [(PAIR, False)]
    plt.close('all')

def test_trained_on_tells_a_longer_budget_of_the_same_settings_apart(runs, tmp_path):
    """A 4x budget keeps the run's identity (it continues the run), so two results.json can carry the saved networks'
    identity: the one whose training record (steps, best epoch, its loss) is the run folder's summary is quoted, whichever
    is newer (catches the identity alone deciding: the newest file would win, the wrong network's accuracy quoted)."""
    import json, os
    summary = dict(steps=500, best_epoch=19, best_valid_loss=0.86)
    (runs/'Mel2DCNN'/'summary.json').write_text(json.dumps(summary))
    mine = write_results(tmp_path/'default', runs, {'Mel2DCNN': 0.72})
    longer = write_results(tmp_path/'longer', runs, {'Mel2DCNN': 0.60})
    for p, train in [(mine, summary), (longer, dict(steps=325, best_epoch=8, best_valid_loss=1.10))]:
        res = json.loads(p.read_text()); res['rows']['Mel2DCNN']['train'].update(train); p.write_text(json.dumps(res))
    results = tmp_path/'all'; results.mkdir()
    for p, age in [(mine, 100), (longer, 0)]:                       # the longer run's file is the newer one
        (results/p.parent.parent.name).symlink_to(p.parent, target_is_directory=True); os.utime(p, (p.stat().st_atime, p.stat().st_mtime - age))
    assert '72.0%' in predict.trained_on('Mel2DCNN', runs, FOUR, results=results)
    (runs/'Mel2DCNN'/'summary.json').write_text(json.dumps(dict(steps=325, best_epoch=8, best_valid_loss=1.10)))
    assert '60.0%' in predict.trained_on('Mel2DCNN', runs, FOUR, results=results)
