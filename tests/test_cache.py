"""The caches of chapters 04a and 04b: one lossless FLAC shard per clip, equal to a fresh decode, built when first read (by any process),
keyed by content and settings, atomic, refused before a disk that cannot hold them, one line when the disk fills anyway."""
import errno, os, warnings
from pathlib import Path
import numpy as np
import pytest
import torch
import mgr_course.cache as cache
import mgr_course.files as files
from mgr_course.config import CFG
from mgr_course.data import load_audio, crop_offsets, AudioError
from mgr_course.datasets import CropDataset, make_loader, EpochSampler, default_workers
import mgr_course.bank as bank_module
from mgr_course.cache import files_key, task_key, quantize, encode_shard, read_shard, cache_usage, cache_summary, clear_cache
from mgr_course.bank import DecodedClips, AugmentBank, BankCrops, ClipCrops, prepare_caches

from conftest import sine_clips, SINE_AMPS as AMPS

SR = CFG.sample_rate

@pytest.fixture(scope='module')
def clips(tmp_path_factory):
    "A tiny clip table: 4 training clips, 2 validation, 2 test; sines of known amplitude and distinct pitch (distinct files: distinct shards), 7 s, some at 22.05 kHz."
    return sine_clips(tmp_path_factory.mktemp('clips'), pitch_step=10)

def shard_files(root, kind=None) -> list:
    "The shard files under root/cache (of one kind), and any temporary file left beside them."
    base = root/'cache'/kind if kind else root/'cache'
    return sorted(p.name for p in base.rglob('*') if p.is_file()) if base.exists() else []

def test_quantize_error_bound():
    y = np.float32([0, 1e-6, -0.5, 0.99999, -1.0, 0.3])
    q, s = quantize(y)
    assert q.dtype == np.int16 and s == 1 / 32767 and np.abs(q * np.float32(s) - y).max() <= s / 2 * 1.01
    q, s = quantize(np.float32([2.5, -1.2, 0.1]))                         # above 1 (a pitch shift can): the scale grows
    assert s == 2.5 / 32767 and q[0] == 32767 and np.abs(q * np.float32(s) - [2.5, -1.2, 0.1]).max() <= s / 2 * 1.01

@pytest.mark.parametrize('codec', ['flac', 'zst'])
def test_a_shard_is_lossless_and_seekable(tmp_path, codec):
    q = np.random.default_rng(0).integers(-32768, 32767, size=(3, 5000)).astype(np.int16)   # noise: the hardest case to compress
    q[1, :7] = [-32768, 32767, 0, -1, 1, 255, -256]                                         # the extremes, and both bytes' edges
    f = tmp_path/f's.{codec}'; f.write_bytes(encode_shard(q, [1e-5, 2e-5, 3e-5], SR, codec))
    for row in range(3):
        got, scale = read_shard(f, row)
        assert np.array_equal(got, q[row]) and scale == [1e-5, 2e-5, 3e-5][row]
    assert np.array_equal(read_shard(f, 1, 4000, 999)[0], q[1, 4000:4999])
    assert np.array_equal(read_shard(f, 1, 3, 4)[0], q[1, 3:7])                                # a crop's bytes rejoin at an offset (sign kept)
    with pytest.raises(ValueError, match='outside the shard'): read_shard(f, 1, 4990, 20)
    with pytest.raises(ValueError, match='outside the shard'): read_shard(f, 3)
    f.write_bytes(f.read_bytes()[:len(f.read_bytes()) // 2])                                  # cut: an error, never short data
    with pytest.raises(Exception) as e: read_shard(f, 2)
    assert not isinstance(e.value, (ValueError, AssertionError))

def test_decoded_equals_fresh_decode_and_keeps_only_evaluation_clips(clips, tmp_path, monkeypatch):
    "Tolerance: int16 with scale = max(1, peak) / 32767, so within half a step (1.5e-5 here), plus 1% for float32 rounding."
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    d = DecodedClips(clips)
    assert shard_files(tmp_path) == []                                      # nothing is decoded before it is read
    assert len(d) == len(clips) and list(d.track_ids) == list(clips.index) and list(d.labels) == list(clips.label)
    for i, p in enumerate(clips.path):
        fresh = load_audio(p, SR)
        assert len(d.audio(i)) == len(fresh) == clips.samples.iloc[i]
        assert np.abs(d.audio(i) - fresh).max() <= 1 / 32767 / 2 * 1.01
    kept = [d.shards.path(i).exists() for i in range(len(d))]
    assert kept == [False] * 4 + [True] * 4                                  # training clips are read, not kept (the bank keeps their views)
    again = DecodedClips(clips)
    assert all(np.array_equal(again.audio(i), d.audio(i)) for i in range(len(d)))
    assert all(np.array_equal(DecodedClips(clips, cache=False).audio(i), d.audio(i)) for i in range(len(d)))
    with pytest.raises(ValueError, match='outside clip'): d.audio(0, 7 * SR - 5, 10)

def test_a_bad_file_is_named_when_read(clips, tmp_path, monkeypatch):
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    bad = clips.copy()
    (tmp_path/'garbage.mp3').write_bytes(b'not audio at all' * 64)
    cut = tmp_path/'cut.wav'                                                # cut mid-stream: decodes, silently shorter than scanned
    cut.write_bytes(open(clips.path.iloc[4], 'rb').read()[:200_000])
    for row, p in [(5, tmp_path/'garbage.mp3'), (4, cut), (6, tmp_path/'missing.mp3')]: bad.iloc[row, bad.columns.get_loc('path')] = str(p)
    d = DecodedClips(bad)
    for row, what in [(5, 'garbage.mp3'), (4, 'clip table says'), (6, 'missing.mp3')]:
        with pytest.raises(AudioError, match=what): d.audio(row, 0, 10)
        assert not d.shards.path(row).exists()
    assert len(d.audio(7)) == 7 * SR                                        # the others are unaffected
    with pytest.warns(RuntimeWarning, match=r'skipping track 6 \(test\): .*missing.mp3'):
        test = ClipCrops(d, 'test')                                         # an evaluation split drops what it cannot decode, named
    assert list(test.index) == [7] and test.in_memory
    with pytest.warns(RuntimeWarning) as rec, pytest.raises(ValueError, match="no 'validation' clip could be decoded"): ClipCrops(d, 'validation')
    msgs = sorted(str(w.message) for w in rec)
    assert len(msgs) == 2 and 'track 4' in msgs[0] and 'clip table says' in msgs[0] and 'track 5' in msgs[1] and 'garbage.mp3' in msgs[1]

def test_a_killed_or_damaged_build_leaves_nothing_that_looks_complete(clips, tmp_path, monkeypatch):
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    d = DecodedClips(clips)
    real, calls = cache.encode_shard, []         # Shards (chapter 04a) writes every shard through encode_shard
    def dies(*a):
        calls.append(1)
        if len(calls) == 2: raise KeyboardInterrupt('killed')
        return real(*a)
    monkeypatch.setattr(cache, 'encode_shard', dies)
    with pytest.raises(KeyboardInterrupt): d.shards.fill([4, 5, 6, 7], n_jobs=1, progress=False)
    assert len(shard_files(tmp_path)) == 1 and not any('tmp' in n for n in shard_files(tmp_path))   # one built, none half-built
    monkeypatch.setattr(cache, 'encode_shard', real)
    assert d.shards.missing() == [0, 1, 2, 3, 5, 6, 7]                         # the killed fill resumes where it stopped
    d.shards.fill([4, 5, 6, 7], n_jobs=1, progress=False)
    p = d.shards.path(6); p.write_bytes(p.read_bytes()[:3000])                # damaged (a disk error; never our own write)
    with pytest.warns(RuntimeWarning, match='damaged'): x = d.audio(6)
    assert np.array_equal(x, DecodedClips(clips, cache=False).audio(6))         # rebuilt

def test_the_disk_is_checked_before_and_a_full_disk_ends_in_one_line(clips, tmp_path, monkeypatch):
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    bank = AugmentBank(DecodedClips(clips, CFG.replace(crop_samples=2**16)), views=2)
    monkeypatch.setattr(files, 'free_bytes', lambda folder: 10**6)
    with pytest.raises(files.NotEnoughSpace, match=r'caching 4 clips \(bank\) needs .* in .*cache but only 1.0 MB is free there \(the folder comes from MGR_DATA\)'):
        bank.shards.fill(n_jobs=1, progress=False)
    assert shard_files(tmp_path) == []
    monkeypatch.undo(); monkeypatch.setenv('MGR_DATA', str(tmp_path))
    def full(f, path, obj, data):                                             # the disk fills half-way through a shard
        f.write(data[:len(data) // 2]); raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(files, '_serialize', full)
    with pytest.raises(OSError) as e: bank.shards.fill(n_jobs=1, progress=False)
    msg = str(e.value)
    assert 'could not write' in msg and '.zst' in msg and 'no space left' in msg and '\n' not in msg
    assert shard_files(tmp_path) == []                                        # the partial file removed

def test_keys_follow_content_and_settings(clips, tmp_path, monkeypatch):
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    moved = clips.assign(path=[str(tmp_path/'elsewhere'/Path(p).name) for p in clips.path])   # same files under another root: same keys
    (tmp_path/'elsewhere').mkdir()
    for p, q in zip(clips.path, moved.path): os.link(p, q)
    cfg = CFG.replace(crop_samples=2**16)
    d = DecodedClips(moved, cfg)
    assert d.shards.keys == DecodedClips(clips, cfg).shards.keys and files_key(moved, x=1) == files_key(clips, x=1)
    keys = lambda **kw: AugmentBank(d, **{'views': 2, 'cfg': cfg, **kw}).shards.keys
    k0 = keys()
    for c in [cfg.replace(pitch_semitones=(-2., 2.)), cfg.replace(p_time_stretch=0.2), cfg.replace(stretch_rate=(0.9, 1.1))]:
        assert keys(cfg=c) != k0
    assert keys(views=3) != k0 and keys(seed=7) != k0
    assert keys(cfg=cfg.replace(p_noise=0.1)) == k0                            # noise is drawn per step: not part of the bank
    f = Path(moved.path.iloc[0])
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))        # touched, as `cp -r` does to every file: same key
    assert DecodedClips(moved, cfg).shards.keys == d.shards.keys
    data = bytearray(f.read_bytes()); data[-100] ^= 0xFF
    f.unlink(); f.write_bytes(bytes(data))                                     # rewritten (same size, other bytes): a new key
    d2 = DecodedClips(moved, cfg)
    assert d2.shards.keys[0] != d.shards.keys[0] and d2.shards.keys[1:] == d.shards.keys[1:]

def test_bank_is_deterministic_whoever_builds_it(clips, tmp_path, monkeypatch):
    cfg = CFG.replace(crop_samples=2**16)
    monkeypatch.setenv('MGR_DATA', str(tmp_path/'a'))
    a = AugmentBank(DecodedClips(clips, cfg), views=2)
    a.shards.fill(n_jobs=2, progress=False)                                   # built by two worker processes
    monkeypatch.setenv('MGR_DATA', str(tmp_path/'b'))
    reordered = clips.iloc[::-1]                                             # seeded by (seed, track id, view): order does not matter
    b = AugmentBank(DecodedClips(reordered, cfg), views=2)                    # built here, one at a time, as read
    assert list(a.labels) == [0, 1, 0, 1] and a.length == 2**16 + 2**13
    for i in range(4):
        for v in range(2): assert np.array_equal(a.view(i, v), b.view(3 - i, v))
    c = AugmentBank(a.decoded, views=2, seed=a.seed + 1, cache=False)
    assert not np.array_equal(c.view(0, 0), a.view(0, 0))
    with pytest.raises(ValueError, match='at least 1'): AugmentBank(a.decoded, views=0)

def test_bank_crops_cycle_views_and_noise(clips, tmp_path, monkeypatch):
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    cfg = CFG.replace(crop_samples=2**16, p_noise=0.)
    bank = AugmentBank(DecodedClips(clips, cfg), views=3)
    ds = BankCrops(bank)
    assert len(ds) == 4 and ds.train and not ds.in_memory
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
    noisy = BankCrops(AugmentBank(bank.decoded, views=3, cfg=cfg.replace(p_noise=1.)))
    noisy.set_epoch(1)
    x, y = noisy[2]
    assert y == clips.label.iloc[2] and x.shape == (1, 2**16) and x.dtype == torch.float32
    assert torch.equal(noisy.__getitems__([2, 0]).x[0], x)
    assert 0.001 <= float((x - ds[2][0]).std()) <= 0.0151                    # same crop, plus noise of the configured amplitude

def test_clip_crops_and_loader_build_shards_in_workers(clips, tmp_path, monkeypatch):
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    d = DecodedClips(clips)
    valid = ClipCrops(d, 'validation')
    assert len(valid) == 2 and not valid.train and list(valid.labels) == list(clips[clips.split == 'validation'].label)
    naive = CropDataset(clips, 'validation')
    for i in range(2): assert (valid[i][0] - naive[i][0]).abs().max() <= 1 / 32767 / 2 * 1.01
    x, y = ClipCrops(d, 'test', crops='all')[1]
    assert x.shape == (len(crop_offsets(7 * SR, CFG.crop_samples)), 1, CFG.crop_samples) and y == clips.label.iloc[7]
    with pytest.raises(ValueError, match="crops must be"): ClipCrops(d, 'test', crops='random')
    with pytest.raises(ValueError, match='split must be one of'): ClipCrops(d, 'valid')
    with pytest.raises(ValueError, match="no 'test' clips"): ClipCrops(DecodedClips(clips[clips.split != 'test']), 'test')
    train = BankCrops(AugmentBank(d, views=2))
    assert make_loader(train).num_workers == max(1, min(8, os.cpu_count()))   # shards missing: one worker per core builds them as it reads
    loader = make_loader(train, batch_size=3, epoch=2)
    b1 = list(loader)                                                         # built by the loader's worker processes
    assert not train.shards.missing() and make_loader(BankCrops(train.bank)).num_workers == 0
    loader.set_epoch(3); assert loader.num_workers == 0                      # the same loader drops its workers once the cache is built
    b0 = list(make_loader(train, batch_size=3, num_workers=0, epoch=2))       # read back here
    assert [len(b.y) for b in b0] == [3, 1] and all(b.skipped == 0 for b in b0)
    for p, q in zip(b0, b1): assert torch.equal(p.x, q.x) and torch.equal(p.y, q.y)
    train.set_epoch(2)
    order = list(EpochSampler(4, True, train.seed, 2))
    assert torch.equal(b0[0].x[0], train[order[0]][0])                       # a batch item is the item itself

def test_prepare_usage_and_clear(clips, tmp_path, monkeypatch):
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    assert cache_summary().startswith('caches: none')
    decoded, bank = prepare_caches(clips, CFG.replace(crop_samples=2**16, augment_views=2), n_jobs=1, progress=False)
    u = cache_usage().set_index('kind')
    assert u.loc['bank', 'files'] == 4 and u.loc[f'decoded-{SR}', 'files'] == 4          # training: views only; the rest: decoded
    assert u.loc['bank', 'bytes'] == sum(bank.shards.path(i).stat().st_size for i in range(4))
    assert 'mgr cache --clear' in cache_summary() and 'decoded-44100' in cache_summary()
    (tmp_path/'cache'/'decoded-2-0123.npy').write_bytes(b'x' * 100)          # a cache of the older format
    assert cache_usage().kind.iloc[-1].startswith('older format')
    freed = clear_cache()
    assert freed == int(u.bytes.sum()) + 100 and shard_files(tmp_path) == []
    assert np.array_equal(bank.view(0, 1), AugmentBank(decoded, 2, cache=False).view(0, 1))   # cleared under a reader: rebuilt as read

def test_a_run_belongs_to_its_labels(clips):
    "Other genres or other splits for the same files: the same caches (files_key), another task (task_key), so other runs."
    relabelled = clips.assign(genre=clips.genre.iloc[::-1].to_numpy(), label=clips.label.iloc[::-1].to_numpy())
    assert files_key(relabelled) == files_key(clips)
    assert task_key(relabelled, CFG.genres) != task_key(clips, CFG.genres)
    assert task_key(clips.assign(split=clips.split.iloc[::-1].to_numpy()), CFG.genres) != task_key(clips, CFG.genres)
    assert task_key(clips, CFG.genres[::-1]) != task_key(clips, CFG.genres)          # the genre list itself is part of the task

def test_mgr_cache_lists_and_clears(clips, tmp_path, monkeypatch, capsys):
    from mgr_course.cli import main
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    main(['cache']); assert 'no caches in' in capsys.readouterr().out
    prepare_caches(clips, CFG.replace(crop_samples=2**16, augment_views=2), n_jobs=1, progress=False)
    main(['cache', '--list']); out = capsys.readouterr().out
    assert 'bank' in out and f'decoded-{SR}' in out and 'mgr cache --clear' in out and str(tmp_path) in out   # the folder in full, usable
    main(['cache', '--clear']); out = capsys.readouterr().out
    assert out.startswith('deleted ') and shard_files(tmp_path) == []
    with pytest.raises(SystemExit): main(['cache', '--list', '--clear'])                      # one or the other

def test_a_zst_row_that_decompresses_to_the_wrong_size_is_damaged(tmp_path):
    "A header that promises more samples than its frame holds: an OSError naming the file (read rebuilds it), never short data."
    import json
    q = np.arange(-500, 500, dtype=np.int16)[None]
    blob = encode_shard(q, [1e-4], SR, 'zst')
    n = int.from_bytes(blob[4:8], 'little'); head = json.loads(blob[8:8 + n]); head['n'] += 10
    h = json.dumps(head).encode(); f = tmp_path/'s.zst'; f.write_bytes(cache.ZST_MAGIC + len(h).to_bytes(4, 'little') + h + blob[8 + n:])
    with pytest.raises(OSError, match='damaged'): read_shard(f, 0, 0, 100)

def test_a_read_into_out_is_the_read_times_its_scale_and_buffers_are_not_shared(tmp_path):
    "`out` takes q * scale in float32 (what the crops always computed); a read without `out` returns its own array, never a thread's buffer."
    rng = np.random.default_rng(1)
    q = rng.integers(-32768, 32767, size=(2, 3000)).astype(np.int16)
    for codec in ('flac', 'zst'):
        f = tmp_path/f's.{codec}'; f.write_bytes(encode_shard(q, [1e-5, 3e-5], SR, codec))
        out = np.full(700, np.nan, np.float32)
        got, scale = read_shard(f, 1, 100, 700, out=out)
        assert got is out and scale == 3e-5 and np.array_equal(out, np.multiply(q[1, 100:800], np.float32(3e-5), dtype=np.float32))
        first = read_shard(f, 0, 0, 500)[0]; keep = first.copy()
        read_shard(f, 1, 0, 500); read_shard(f, 1, 0, 500, out=np.empty(500, np.float32))
        assert np.array_equal(first, keep) and np.array_equal(first, q[0, :500])       # later reads did not write into it

def test_a_rewritten_zst_shard_is_read_anew(tmp_path):
    "The parsed header is remembered per (path, size, mtime): a shard rebuilt under the same name is read from its own header."
    f = tmp_path/'s.zst'
    a = np.arange(1000, dtype=np.int16)[None]
    f.write_bytes(encode_shard(a, [1e-4], SR, 'zst')); assert np.array_equal(read_shard(f)[0], a[0])
    b = np.stack([-a[0], a[0][::-1]])                                          # another size of file and another header
    f.unlink(); f.write_bytes(encode_shard(b, [2e-4, 3e-4], SR, 'zst'))
    got, scale = read_shard(f, 1)
    assert np.array_equal(got, b[1]) and scale == 3e-4

def _scan_keeping(clips, cfg):
    "The scan as `mgr train` runs it: each good clip's decode handed to the caches (`keep_decoded`), in this process."
    from mgr_course.data import scan_clips
    keep = bank_module.keep_decoded(cfg)
    return scan_clips(clips.path, cfg.sample_rate, cfg.crop_samples, n_jobs=1, progress=False,
                      keep=clips.split.map(keep).astype(object))

def test_the_scans_decode_feeds_the_caches_so_no_clip_is_decoded_twice(clips, tmp_path, monkeypatch):
    cfg = CFG.replace(crop_samples=2**16, augment_views=2)
    monkeypatch.setenv('MGR_DATA', str(tmp_path/'plain'))
    d0, b0 = prepare_caches(clips, cfg, n_jobs=1, progress=False)             # the caches built from the files alone
    monkeypatch.setenv('MGR_DATA', str(tmp_path/'kept'))
    s = _scan_keeping(clips, cfg)
    assert (s.samples == clips.samples).all() and (s.reason == '').all()
    d = DecodedClips(clips, cfg)
    flac = [d.shards.path(i) for i in range(8)]; zst = [p.with_suffix('.zst') for p in flac]
    assert [p.exists() for p in flac] == [False] * 4 + [True] * 4           # evaluation clips: their FLAC shard, as DecodedClips writes it
    assert [p.exists() for p in zst] == [True] * 4 + [False] * 4             # training clips: a zst one, until the bank is built
    assert all(p.read_bytes() == d0.shards.path(i).read_bytes() for i, p in enumerate(flac) if i >= 4)
    decodes = []
    monkeypatch.setattr(bank_module, 'load_audio', lambda *a, **k: decodes.append(a) or load_audio(*a, **k))
    bank = AugmentBank(d, views=2)
    assert 0 < bank.shards.estimate(range(4)) < bank.shards.size(range(4)) == AugmentBank(d0, views=2).shards.estimate(range(4))   # the disk check counts what it frees
    assert 'deleting the ' in bank.shards.plan(range(4)) and 'deleting' not in AugmentBank(d0, views=2).shards.plan(range(4))
    decoded, bank = prepare_caches(clips, cfg, n_jobs=1, progress=False)
    assert decodes == [] and not any(p.exists() for p in zst)                # nothing decoded again; the scan's zst shards used, then deleted
    for i in range(4):
        for v in range(2): assert np.array_equal(bank.view(i, v), b0.view(i, v))   # the same views, sample for sample
    assert all(np.array_equal(decoded.audio(i), d0.audio(i)) for i in range(8))

def test_the_scans_shards_are_a_saving_never_a_fault(clips, tmp_path, monkeypatch):
    "A damaged or stale zst shard is passed over (the clip is decoded); one whose views are built already is deleted; a short disk keeps nothing."
    cfg = CFG.replace(crop_samples=2**16, augment_views=2)
    monkeypatch.setenv('MGR_DATA', str(tmp_path/'plain'))
    b0 = AugmentBank(DecodedClips(clips, cfg), views=2, cache=False)
    monkeypatch.setenv('MGR_DATA', str(tmp_path/'kept'))
    _scan_keeping(clips, cfg)
    d = DecodedClips(clips, cfg); zst = [d.shards.path(i).with_suffix('.zst') for i in range(4)]
    zst[0].write_bytes(zst[0].read_bytes()[:1000])                           # cut
    zst[1].write_bytes(encode_shard(np.zeros(500, np.int16), [1.], SR, 'zst'))   # another length than the clip's
    bank = AugmentBank(d, views=2)
    for i in (0, 1, 2):
        assert np.array_equal(bank.view(i, 1), b0.view(i, 1)) and not zst[i].exists()
    zst[2].write_bytes(b'left over by an earlier scan')
    AugmentBank(d, views=2)                                                  # clip 2's views are built: nothing will read its scan shard
    assert not zst[2].exists() and zst[3].exists()
    monkeypatch.setenv('MGR_DATA', str(tmp_path/'short'))
    monkeypatch.setattr(bank_module, 'free_bytes', lambda folder: 50 * 10**6)
    _scan_keeping(clips, cfg)
    assert shard_files(tmp_path/'short') == []                               # no room: nothing kept, nothing half-written
