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
