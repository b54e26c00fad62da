"Datasets and loader: shapes, decode failures, bad input, normalisation statistics (the caches behind them: tests/test_cache.py)."
import warnings
import numpy as np
import pytest
import soundfile as sf
import torch
from mgr_course.config import CFG
import os
from pathlib import Path
import mgr_course.datasets as datasets
from mgr_course.data import load_audio, center_crop_offset, crop_offsets
from mgr_course.datasets import (CropDataset, RawAudioDataset, MelSpectrogramDataset, MFCCDataset, make_loader, Batch,
                                 training_stats, collate_crops, EpochSampler)
from mgr_course.features import LogMelSpectrogram

from conftest import sine_clips, SINE_AMPS as AMPS

SR = CFG.sample_rate

@pytest.fixture(scope='module')
def clips(tmp_path_factory):
    "A tiny clip table: 4 training clips, 2 validation, 2 test; pure 441 Hz sines of known amplitude, 7 s, some written at 22.05 kHz."
    return sine_clips(tmp_path_factory.mktemp('clips'), pitch_step=0)

def test_item_shapes_and_labels(clips):
    for cls, shape in [(CropDataset, (1, CFG.crop_samples)), (RawAudioDataset, CFG.raw_shape), (MelSpectrogramDataset, CFG.mel_shape),
                       (MFCCDataset, CFG.mfcc_shape)]:
        for split, n in [('training', 4), ('validation', 2), ('test', 2)]:
            ds = cls(clips, split)
            assert len(ds) == n
            x, y = ds[0]
            assert tuple(x.shape) == tuple(shape) and x.dtype == torch.float32 and y == int(clips[clips.split == split].label.iloc[0])

def test_train_only_augmentation_and_centre_crop(clips):
    from mgr_course.data import load_audio, center_crop_offset
    assert CropDataset(clips, 'training').train and CropDataset(clips, 'training').augment is not None
    for split in ['validation', 'test']:
        ds = CropDataset(clips, split)
        assert not ds.train and ds.augment is None
        row = clips[clips.split == split].iloc[0]
        expected = load_audio(row.path, SR, offset=center_crop_offset(row.samples, CFG.crop_samples), frames=CFG.crop_samples)
        assert np.array_equal(ds[0][0][0].numpy(), expected)

def test_loader_batches_order_and_workers(clips):
    ds = CropDataset(clips, 'training', seed=5)
    def run(num_workers, epoch, **kw):
        loader = make_loader(ds, batch_size=3, num_workers=num_workers, **kw); loader.set_epoch(epoch); return list(loader)
    b0, b1 = run(0, 2), run(1, 2)
    assert [len(b.y) for b in b0] == [3, 1] and all(isinstance(b, Batch) and b.skipped == 0 for b in b0)
    for p, q in zip(b0, b1): assert torch.equal(p.x, q.x) and torch.equal(p.y, q.y)
    assert torch.equal(list(make_loader(ds, batch_size=3, num_workers=0, epoch=2))[0].x, b0[0].x)   # make_loader(epoch=) alone
    orders = {tuple(EpochSampler(50, True, 5, e)) for e in range(3)}
    assert len(orders) == 3 and sorted(next(iter(orders))) == list(range(50))
    assert list(EpochSampler(5, False, 5, 1)) == list(range(5))
    valid = make_loader(CropDataset(clips, 'validation'), batch_size=2, num_workers=0)
    assert not valid.sampler.shuffle

def test_decode_failure_is_skipped_and_counted(clips, tmp_path):
    bad = clips.copy()
    (tmp_path/'bad.mp3').write_bytes(b'not audio at all' * 64)
    bad.iloc[1, bad.columns.get_loc('path')] = str(tmp_path/'bad.mp3')
    bad.iloc[2, bad.columns.get_loc('path')] = str(tmp_path/'missing.mp3')
    t = np.arange(7 * SR) / SR
    y = np.sin(t).astype(np.float32); y[len(y) // 2] = np.nan
    sf.write(tmp_path/'nan.wav', y, SR, subtype='FLOAT')
    bad.iloc[3, bad.columns.get_loc('path')] = str(tmp_path/'nan.wav')
    ds = CropDataset(bad, 'training', train=False)
    with pytest.warns(RuntimeWarning, match='bad.mp3'): assert ds[1] is None
    with pytest.warns(RuntimeWarning, match='missing.mp3'): assert ds[2] is None
    with pytest.warns(RuntimeWarning, match='nan.wav'): assert ds[3] is None
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        batches = list(make_loader(ds, batch_size=4, num_workers=0))
    assert len(batches) == 1 and batches[0].skipped == 3 and batches[0].y.tolist() == [clips.label.iloc[0]]
    empty = collate_crops([None, None])
    assert empty.skipped == 2 and len(empty.y) == 0

def test_bad_input(clips):
    with pytest.raises(ValueError, match='split must be one of'): CropDataset(clips, 'train')
    with pytest.raises(ValueError, match='shorter than a crop'): CropDataset(clips.assign(samples=CFG.crop_samples - 1), 'training')
    with pytest.raises(ValueError, match='lacks columns'): CropDataset(clips.drop(columns='samples'), 'training')
    with pytest.raises(ValueError, match="no 'test' clips"): CropDataset(clips[clips.split != 'test'], 'test')
    with pytest.raises(ValueError, match='expects 22050 Hz'):
        CropDataset(clips, 'training', transform=LogMelSpectrogram(CFG.replace(sample_rate=22_050)))

def test_training_stats_on_a_known_signal(clips, tmp_path, monkeypatch):
    "Training clips are 441 Hz sines of amplitude 0.1..0.4: raw audio has mean 0 and std sqrt(mean(a^2) / 2)."
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    mean, std = training_stats(clips, 'raw', progress=False, num_workers=0)
    assert mean.shape == (1, 1) and abs(float(mean)) < 1e-4
    assert float(std) == pytest.approx(np.sqrt(np.mean(np.square(AMPS)) / 2), rel=1e-3)
    cached = list((tmp_path/'stats').glob('raw-*.pt'))
    assert len(cached) == 1 and not list((tmp_path/'stats').glob('*.tmp'))
    assert torch.equal(training_stats(clips, 'raw', progress=False)[1], std)     # from the cache
    m, s = training_stats(clips, 'mel', progress=False, num_workers=0)
    assert m.shape == s.shape == (1, CFG.n_mels, 1)
    band = int(torch.argmax(m.ravel()))                                             # the loudest band holds 441 Hz
    from mgr_course.features import mel_band_edges
    e = mel_band_edges()
    assert float(e[band]) < 441 < float(e[band + 2])
    x, _ = MelSpectrogramDataset(clips, 'training', train=False, normalize=True)[0]
    assert x.shape == CFG.mel_shape and abs(float(x.mean())) < 3
    with pytest.raises(ValueError, match='kind must be one of'): training_stats(clips, 'cqt')

# --- the decoded cache and the augmentation bank ---
