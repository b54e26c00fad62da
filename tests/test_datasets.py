"Datasets and loader: shapes, decode failures, bad input, normalisation statistics; the decoded cache and the augmentation bank: equal to a fresh decode, keyed by content, atomic, deterministic."
import warnings
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from mgr_course.config import CFG
import os
from pathlib import Path
import mgr_course.datasets as datasets
from mgr_course.data import load_audio, center_crop_offset, crop_offsets
from mgr_course.datasets import (CropDataset, RawAudioDataset, MelSpectrogramDataset, MFCCDataset, make_loader, Batch,
                                 training_stats, collate_crops, EpochSampler, DecodedClips, AugmentBank, BankCrops, ClipCrops,
                                 files_key, task_key, quantize)
from mgr_course.features import LogMelSpectrogram

SR = CFG.sample_rate
AMPS = [0.1, 0.2, 0.3, 0.4]

@pytest.fixture(scope='module')
def clips(tmp_path_factory):
    "A tiny clip table: 4 training clips, 2 validation, 2 test; pure 441 Hz sines of known amplitude, 7 s, some written at 22.05 kHz."
    d = tmp_path_factory.mktemp('clips')
    rows = []
    for i in range(8):
        rate = SR if i % 2 == 0 else 22_050
        t = np.arange(int(7 * rate)) / rate
        p = d/f'{i:06d}.wav'
        sf.write(p, (AMPS[i % 4] * np.sin(2 * np.pi * 441 * t)).astype(np.float32), rate, subtype='FLOAT')
        rows.append(dict(track_id=i, genre=CFG.genres[i % 2], label=i % 2, split=(['training'] * 4 + ['validation'] * 2 + ['test'] * 2)[i], path=str(p), samples=7 * SR))
    return pd.DataFrame(rows).set_index('track_id')

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

def caches(root, prefix):
    "The complete caches (those with an index) named `prefix`-* in root/cache."
    return sorted(p.name[:-len('.index.npz')] for p in (root/'cache').glob(f'{prefix}-*.index.npz'))

def test_quantize_error_bound():
    y = np.float32([0, 1e-6, -0.5, 0.99999, -1.0, 0.3])
    q, s = quantize(y)
    assert q.dtype == np.int16 and s == 1 / 32767 and np.abs(q * np.float32(s) - y).max() <= s / 2 * 1.01
    q, s = quantize(np.float32([2.5, -1.2, 0.1]))                         # above 1 (a pitch shift can): the scale grows
    assert s == 2.5 / 32767 and q[0] == 32767 and np.abs(q * np.float32(s) - [2.5, -1.2, 0.1]).max() <= s / 2 * 1.01

def test_cached_decode_equals_fresh_decode(clips, tmp_path, monkeypatch):
    "Tolerance: int16 with scale = max(1, peak) / 32767, so within half a step (1.5e-5 here), plus 1% for float32 rounding."
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    d = DecodedClips(clips, progress=False)
    assert len(d) == len(clips) and list(d.track_ids) == list(clips.index) and list(d.labels) == list(clips.label)
    for i, p in enumerate(clips.path):
        fresh = load_audio(p, SR)
        assert len(d.audio(i)) == len(fresh) == clips.samples.iloc[i]
        assert np.abs(d.audio(i) - fresh).max() <= d.scales[i] / 2 * 1.01
    assert caches(tmp_path, 'decoded') == [Path(d.data.filename).stem] and isinstance(d.data, np.memmap)
    again = DecodedClips(clips, progress=False)                             # from the cache: the same bytes
    assert again.data.filename == d.data.filename and np.array_equal(again.data, d.data)
    assert np.array_equal(DecodedClips(clips, cache=False, progress=False).data, d.data)
    with pytest.raises(ValueError, match='outside clip'): d.audio(0, 7 * SR - 5, 10)

def test_decode_failure_reported_by_path_and_excluded(clips, tmp_path, monkeypatch):
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    bad = clips.copy()
    (tmp_path/'garbage.mp3').write_bytes(b'not audio at all' * 64)
    cut = tmp_path/'cut.wav'                                                # cut mid-stream: decodes, silently shorter than scanned
    cut.write_bytes(open(clips.path.iloc[2], 'rb').read()[:200_000])
    for row, p in [(1, tmp_path/'garbage.mp3'), (2, cut), (3, tmp_path/'missing.mp3')]: bad.iloc[row, bad.columns.get_loc('path')] = str(p)
    for _ in range(2):                                                       # built, then from the cache: reported both times
        with pytest.warns(RuntimeWarning) as rec: d = DecodedClips(bad, progress=False)
        msgs = ' '.join(str(w.message) for w in rec)
        assert 'garbage.mp3' in msgs and 'missing.mp3' in msgs and 'cut.wav' in msgs and 'clip table says' in msgs
        assert list(d.track_ids) == [0, 4, 5, 6, 7]

def test_killed_write_leaves_nothing_complete(clips, tmp_path, monkeypatch):
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    real, calls = datasets._decode, []
    def dies(job):
        calls.append(job)
        if len(calls) == 3: raise KeyboardInterrupt('killed')             # half-way through writing the .npy
        return real(job)
    monkeypatch.setattr(datasets, '_decode', dies)
    with pytest.raises(KeyboardInterrupt): DecodedClips(clips, progress=False, n_jobs=1)
    assert caches(tmp_path, 'decoded') == [] and [p.name for p in (tmp_path/'cache').iterdir() if not p.name.endswith('.lock')] == []
    monkeypatch.setattr(datasets, '_decode', real)
    name = f"decoded-{SR}-{files_key(clips, kind='decoded', sample_rate=SR)}"
    left = tmp_path/'cache'/f'.{name}.99999999.tmp.npy'                        # what a SIGKILL leaves: a temporary file...
    left.write_bytes(b'half')
    (tmp_path/'cache'/f'{name}.npy').write_bytes(b'samples without an index')   # ...or samples renamed, killed before the index
    d = DecodedClips(clips, progress=False, n_jobs=1)                          # rebuilt, the leftover removed
    assert len(d) == len(clips) and not left.exists() and caches(tmp_path, 'decoded') == [name]
    assert np.array_equal(d.audio(0), DecodedClips(clips, cache=False, progress=False).audio(0))

def test_keys_follow_content_and_settings(clips, tmp_path, monkeypatch):
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    k0 = files_key(clips, x=1)
    assert files_key(clips, x=1) == k0 != files_key(clips, x=2) != files_key(clips.iloc[:-1], x=1)
    moved = clips.assign(path=[str(tmp_path/'elsewhere'/Path(p).name) for p in clips.path])   # same files under another root: same key
    (tmp_path/'elsewhere').mkdir()
    for p, q in zip(clips.path, moved.path): os.link(p, q)
    assert files_key(moved, x=1) == k0
    d = DecodedClips(moved, progress=False)
    cfg = CFG.replace(crop_samples=2**16)
    bank = AugmentBank(d, views=2, cfg=cfg, progress=False)
    assert len(caches(tmp_path, 'bank')) == 1
    for c in [cfg.replace(pitch_semitones=(-2., 2.)), cfg.replace(p_time_stretch=0.2), cfg.replace(stretch_rate=(0.9, 1.1))]:
        AugmentBank(d, views=2, cfg=c, progress=False)
    AugmentBank(d, views=3, cfg=cfg, progress=False); AugmentBank(d, views=2, cfg=cfg, seed=7, progress=False)
    assert len(caches(tmp_path, 'bank')) == 6
    AugmentBank(d, views=2, cfg=cfg.replace(p_noise=0.1), progress=False)     # noise is drawn per step: not part of the bank
    assert len(caches(tmp_path, 'bank')) == 6
    f = Path(moved.path.iloc[0])
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))        # touched, as `cp -r` does to every file: same key
    assert files_key(moved, x=1) == k0
    data = bytearray(f.read_bytes()); data[-100] ^= 0xFF
    f.unlink(); f.write_bytes(bytes(data))                                     # rewritten (same size, other bytes): a new key, a new cache
    assert files_key(moved, x=1) != k0
    d2 = DecodedClips(moved, progress=False)
    assert len(caches(tmp_path, 'decoded')) == 2 and d2.data.filename != d.data.filename
    AugmentBank(d2, views=2, cfg=cfg, progress=False)
    assert len(caches(tmp_path, 'bank')) == 7

def test_bank_is_deterministic(clips, tmp_path, monkeypatch):
    cfg = CFG.replace(crop_samples=2**16)
    monkeypatch.setenv('MGR_DATA', str(tmp_path/'a'))
    a = AugmentBank(DecodedClips(clips, cfg, progress=False), views=2, progress=False)
    monkeypatch.setenv('MGR_DATA', str(tmp_path/'b'))
    reordered = clips.iloc[::-1]                                             # seeded by (seed, track id, view): order does not matter
    b = AugmentBank(DecodedClips(reordered, cfg, progress=False), views=2, progress=False, n_jobs=1)
    assert a.data.shape == (4 * 2, 2**16 + 2**13) and list(a.labels) == [0, 1, 0, 1]
    for i in range(4):
        j = 3 - i
        assert np.array_equal(a.data[2 * i:2 * i + 2], b.data[2 * j:2 * j + 2]) and np.array_equal(a.scales[i], b.scales[j])
    c = AugmentBank(a.decoded, views=2, seed=a.seed + 1, cache=False, progress=False)
    assert not np.array_equal(c.data, a.data)
    with pytest.raises(ValueError, match='at least 1'): AugmentBank(a.decoded, views=0)

def test_bank_crops_cycle_views_and_noise(clips, tmp_path, monkeypatch):
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    cfg = CFG.replace(crop_samples=2**16, p_noise=0.)
    bank = AugmentBank(DecodedClips(clips, cfg, progress=False), views=3, progress=False)
    ds = BankCrops(bank)
    assert len(ds) == 4 and ds.train and ds.in_memory
    def which_view(i):
        x = ds[i][0][0].numpy()
        views = [bank.view(i, v) for v in range(3)]
        hits = {v for v, w in enumerate(views) for o in np.flatnonzero(w == x[0]) if o + 2**16 <= len(w) and np.array_equal(w[o:o + 2**16], x)}
        assert len(hits) == 1
        return hits.pop()
    for i in [0, 3]:
        seen = []
        for e in range(3): ds.set_epoch(e); seen.append(which_view(i))
        assert sorted(seen) == [0, 1, 2]                                     # each view once in `views` epochs
    ds.set_epoch(1)
    noisy = BankCrops(AugmentBank(bank.decoded, views=3, cfg=cfg.replace(p_noise=1.), progress=False))
    noisy.set_epoch(1)
    x, y = noisy[2]
    assert y == clips.label.iloc[2] and x.shape == (1, 2**16) and x.dtype == torch.float32
    assert torch.equal(noisy.__getitems__([2, 0]).x[0], x)
    assert 0.001 <= float((x - ds[2][0]).std()) <= 0.0151                    # same crop, plus noise of the configured amplitude

def test_clip_crops_and_loader(clips, tmp_path, monkeypatch):
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    d = DecodedClips(clips, progress=False)
    valid = ClipCrops(d, 'validation')
    assert len(valid) == 2 and not valid.train and list(valid.labels) == list(clips[clips.split == 'validation'].label)
    naive = CropDataset(clips, 'validation')
    for i in range(2): assert (valid[i][0] - naive[i][0]).abs().max() <= d.scales[4 + i] / 2 * 1.01
    x, y = ClipCrops(d, 'test', crops='all')[1]
    assert x.shape == (len(crop_offsets(7 * SR, CFG.crop_samples)), 1, CFG.crop_samples) and y == clips.label.iloc[7]
    with pytest.raises(ValueError, match="crops must be"): ClipCrops(d, 'test', crops='random')
    with pytest.raises(ValueError, match='split must be one of'): ClipCrops(d, 'valid')
    with pytest.raises(ValueError, match="no 'test' clips"): ClipCrops(DecodedClips(clips[clips.split != 'test'], progress=False), 'test')
    train = BankCrops(AugmentBank(d, views=2, progress=False))
    assert make_loader(train).num_workers == 0 and make_loader(naive).num_workers == datasets.default_workers()
    b0, b1 = [list(make_loader(train, batch_size=3, num_workers=w, epoch=2)) for w in (0, 1)]
    assert [len(b.y) for b in b0] == [3, 1] and all(b.skipped == 0 for b in b0)
    for p, q in zip(b0, b1): assert torch.equal(p.x, q.x) and torch.equal(p.y, q.y)
    train.set_epoch(2)
    order = list(EpochSampler(4, True, train.seed, 2))
    assert torch.equal(b0[0].x[0], train[order[0]][0])                       # a batch item is the item itself


def test_a_run_belongs_to_its_labels(clips):
    "Other genres or other splits for the same files: the same caches (files_key), another task (task_key), so other runs."
    relabelled = clips.assign(genre=clips.genre.iloc[::-1].to_numpy(), label=clips.label.iloc[::-1].to_numpy())
    assert files_key(relabelled) == files_key(clips)
    assert task_key(relabelled, CFG.genres) != task_key(clips, CFG.genres)
    assert task_key(clips.assign(split=clips.split.iloc[::-1].to_numpy()), CFG.genres) != task_key(clips, CFG.genres)
    assert task_key(clips, CFG.genres[::-1]) != task_key(clips, CFG.genres)          # the genre list itself is part of the task
