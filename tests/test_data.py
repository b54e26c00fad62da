"The data loader: metadata on real FMA excerpts and bad CSVs, windowed decoding, crops, scan cache, clip_table."
import os, shutil
from pathlib import Path
import numpy as np, pandas as pd, pytest, soundfile as sf, soxr
import mgr_course.data as data
from mgr_course.config import CFG, GENRES
from mgr_course.data import (load_tracks, subset_clips, MetadataError, load_audio, AudioError, audio_path, dataset_root,
                             ensure_dataset, random_crop_offset, center_crop_offset, crop_offsets, scan_clips, scan_clip,
                             clip_table, get_clip, scan_dataset, cleaning_report)
from mgr_course.synthetic import plan_dataset

from conftest import FIXTURES   # the one definition of where the fixtures are: the clone's fixtures/
TRACKS_HEAD = FIXTURES/'fma_metadata'/'tracks_head.csv'
N = CFG.crop_samples


# ---------------------------------------------------------------- metadata
def test_load_real_tracks_head():
    t = load_tracks(TRACKS_HEAD)
    assert len(t) == 200 and t.index.name == 'track_id' and t.index[0] == 2
    assert t.columns.nlevels == 2 and {'album', 'artist', 'set', 'track'} <= set(t.columns.get_level_values(0))
    clips = subset_clips(t)
    assert len(clips) == 22
    assert set(clips.genre) <= set(GENRES) and set(clips.split) <= {'training', 'validation', 'test'}
    assert (clips.label == clips.genre.map(GENRES.index)).all()
    assert t.loc[2, ('track', 'genres')] == [21] and isinstance(t.loc[2, ('track', 'tags')], list)
    assert str(t['set', 'subset'].dtype) == 'category'
    # free text with quoted commas and newlines is parsed into one field
    assert t['artist', 'bio'].astype(str).str.contains('\n').any()


def _csv(tmp_path, text, name='tracks.csv'):
    p = tmp_path/name; p.write_bytes(text if isinstance(text, bytes) else text.encode()); return p


def test_truncated_csv_mid_row(tmp_path):
    b = TRACKS_HEAD.read_bytes()
    p = _csv(tmp_path, b[:len(b)//2])
    with pytest.raises(MetadataError, match=r'tracks\.csv.*truncated'): load_tracks(p)


def test_truncated_csv_inside_quoted_field(tmp_path):
    b = TRACKS_HEAD.read_bytes()
    i = b.index(b'"<p>', 5000); j = b.index(b'\n', i)          # a newline inside a quoted field
    p = _csv(tmp_path, b[:j + 1])
    with pytest.raises(MetadataError, match=r'tracks\.csv'): load_tracks(p)


def test_csv_with_missing_column(tmp_path):
    t = pd.read_csv(TRACKS_HEAD, header=[0, 1], index_col=0).drop(columns=[('set', 'split')])
    t.to_csv(tmp_path/'tracks.csv')
    with pytest.raises(MetadataError, match=r"tracks\.csv: lacks column.*'set', 'split'"): load_tracks(tmp_path/'tracks.csv')


def test_missing_empty_and_garbage_csv(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.csv'): load_tracks(tmp_path/'nope.csv')
    with pytest.raises(MetadataError, match='empty'): load_tracks(_csv(tmp_path, b'', 'e.csv'))
    with pytest.raises(MetadataError, match='g.csv'): load_tracks(_csv(tmp_path, bytes(range(256))*10 + b'\n', 'g.csv'))
    with pytest.raises(MetadataError, match='flat.csv'): load_tracks(_csv(tmp_path, 'a,b\n1,2\n', 'flat.csv'))


def test_row_without_subset_or_bad_split(tmp_path):
    head = ',set,set,track\n,split,subset,genre_top\ntrack_id,,,\n'
    load_tracks(_csv(tmp_path, head + '2,training,small,Rock\n'))                        # fine
    with pytest.raises(MetadataError, match='first track_id 3'): load_tracks(_csv(tmp_path, head + '2,training,small,Rock\n3,test,,Pop\n'))
    with pytest.raises(MetadataError, match="'train'"): load_tracks(_csv(tmp_path, head + '2,train,small,Rock\n'))
    t = load_tracks(_csv(tmp_path, head + '2,training,small,Rock\n4,test,small,Polka\n'))
    with pytest.raises(MetadataError, match='Polka'): subset_clips(t)


# ---------------------------------------------------------------- audio
@pytest.fixture(scope='module')
def clips_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('audio')
    rng = np.random.default_rng(0)
    for sr, ch in [(44_100, 1), (48_000, 2), (48_000, 1), (44_100, 2)]:
        t = np.arange(int(9*sr))/sr
        x = 0.3*np.sin(2*np.pi*(220 + 200*t)*t) + 0.05*rng.standard_normal(len(t))
        x = np.stack([x, 0.5*x], 1) if ch == 2 else x
        sf.write(d/f'{sr}_{ch}.mp3', x.astype(np.float32), sr, format='MP3')
        if ch == 2: sf.write(d/f'{sr}_{ch}_vbr.mp3', x.astype(np.float32), sr, format='MP3', bitrate_mode='VARIABLE', compression_level=.5)
    (d/'empty.mp3').write_bytes(b'')
    (d/'garbage.mp3').write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    b = (d/'44100_1.mp3').read_bytes(); (d/'cut.mp3').write_bytes(b[:len(b)//3])
    return d


def _whole(path, sr=CFG.sample_rate):
    x, src = sf.read(path, dtype='float32', always_2d=True)
    return soxr.resample(x.mean(1), src, sr) if src != sr else x.mean(1)


@pytest.mark.parametrize('name', ['44100_1.mp3', '48000_2.mp3', '48000_1.mp3', '44100_2_vbr.mp3', '48000_2_vbr.mp3'])
def test_windowed_decode_matches_whole_clip(clips_dir, name):
    p = clips_dir/name
    full = _whole(p)
    assert len(load_audio(p)) == len(full)
    for off in (0, 1, 4097, 100_000, center_crop_offset(len(full), N), len(full) - N):
        crop = load_audio(p, offset=off, frames=N)
        assert crop.shape == (N,) and crop.dtype == np.float32           # 2**18 samples at 44.1 kHz, from any source rate
        np.testing.assert_allclose(crop, full[off:off + N], atol=1e-4)


def test_real_ogg_at_22050(tmp_path):
    p = FIXTURES/'real_music'/'Kevin_MacLeod_-_Vibe_Ace.ogg'
    full = _whole(p)
    assert abs(len(full)/CFG.sample_rate - 61) < 2
    off = random_crop_offset(len(full), N, np.random.default_rng(1))
    np.testing.assert_allclose(load_audio(p, offset=off, frames=N), full[off:off + N], atol=1e-4)


def test_audio_errors_name_the_file(clips_dir):
    with pytest.raises(AudioError, match='nothere.mp3: no such file'): load_audio(clips_dir/'nothere.mp3')
    with pytest.raises(AudioError, match=r'empty.mp3: empty file'): load_audio(clips_dir/'empty.mp3')
    with pytest.raises(AudioError, match=r'garbage.mp3: cannot be decoded'): load_audio(clips_dir/'garbage.mp3')
    n = len(load_audio(clips_dir/'48000_2.mp3'))
    with pytest.raises(AudioError, match=r'48000_2.mp3: too short'): load_audio(clips_dir/'48000_2.mp3', offset=n - N + 1, frames=N)
    with pytest.raises(ValueError): load_audio(clips_dir/'48000_2.mp3', offset=-1)
    assert issubclass(AudioError, RuntimeError)


def test_truncated_mp3_decodes_short_and_scan_says_so(clips_dir):
    x = load_audio(clips_dir/'cut.mp3')                   # no error: a cut mp3 decodes silently, just shorter
    assert 0 < len(x) < N
    samples, reason, detail = scan_clip(clips_dir/'cut.mp3')
    assert (samples, reason) == (len(x), 'too short') and 'one crop' in detail
    assert scan_clip(clips_dir/'empty.mp3')[1] == 'empty'
    assert scan_clip(clips_dir/'garbage.mp3')[1] == 'undecodable'
    assert scan_clip(clips_dir/'missing.mp3')[1] == 'missing'
    assert scan_clip(clips_dir/'44100_1.mp3')[1] == ''


def test_crops():
    rng = np.random.default_rng(0)
    offs = {random_crop_offset(N + 100, N, rng) for _ in range(2000)}
    assert offs == set(range(101))                         # every start, and nothing beyond the clip
    assert center_crop_offset(N, N) == 0 and center_crop_offset(N + 3, N) == 1
    assert crop_offsets(2*N, N) == [0, N] and crop_offsets(3*N - 1, N) == [(N - 1)//2, (N - 1)//2 + N]
    for f in (lambda: random_crop_offset(N - 1, N, rng), lambda: center_crop_offset(N - 1, N), lambda: crop_offsets(N - 1, N)):
        with pytest.raises(ValueError, match='no crop'): f()


def test_scan_cache(clips_dir, tmp_path, monkeypatch):
    d = tmp_path/'clips'; shutil.copytree(clips_dir, d)
    paths = pd.Series({i: str(d/n) for i, n in enumerate(['44100_1.mp3', '48000_2.mp3', 'cut.mp3', 'empty.mp3'])})
    calls = []
    real = data._scan_row
    monkeypatch.setattr(data, '_scan_row', lambda a: calls.append(a[0]) or real(a))
    cache = tmp_path/'cache.csv'
    first = scan_clips(paths, cache=cache, n_jobs=1, progress=False)
    assert len(calls) == 4 and first.reason.tolist() == ['', '', 'too short', 'empty']
    second = scan_clips(paths, cache=cache, n_jobs=1, progress=False)
    assert len(calls) == 4                                  # unchanged: nothing rescanned
    pd.testing.assert_frame_equal(first, second)
    shutil.copy(d/'44100_1.mp3', d/'cut.mp3')               # a file changes: it alone is rescanned
    third = scan_clips(paths, cache=cache, n_jobs=1, progress=False)
    assert calls[4:] == [str(d/'cut.mp3')] and third.reason.tolist() == ['', '', '', 'empty']
    scan_clips(paths, sr=22_050, cache=cache, n_jobs=1, progress=False)   # other settings: everything rescanned
    assert len(calls) == 9
    cache.write_text('garbage\x00')                         # a damaged cache is rebuilt, not trusted
    assert scan_clips(paths, cache=cache, n_jobs=1, progress=False).reason.tolist() == ['', '', '', 'empty']


# ---------------------------------------------------------------- the dataset
@pytest.fixture(scope='module')
def tiny_cfg(tmp_path_factory):
    d = tmp_path_factory.mktemp('data')
    os.environ['MGR_DATA'] = str(d)
    yield CFG.replace(dataset='synthetic', synthetic_per_genre=3, synthetic_seconds=6.5, synthetic_seed=5)
    del os.environ['MGR_DATA']


def test_clip_table_on_synthetic(tiny_cfg):
    root = dataset_root(tiny_cfg)
    assert root == Path(os.environ['MGR_DATA'])/'synthetic-3x6.5s-1-1-1-seed5'
    clips = clip_table(tiny_cfg, progress=False)
    assert list(clips.columns) == ['genre', 'label', 'split', 'path', 'samples'] and clips.index.name == 'track_id'
    plan = plan_dataset(3, 5)
    assert sorted(clips.index) == sorted(plan.index[plan.defect == ''])          # every planted defect excluded
    assert (clips.samples >= N).all() and all(Path(p).is_absolute() and Path(p).exists() for p in clips.path)
    assert (clips.genre == clips.label.map(lambda i: GENRES[i])).all()
    assert set(clips.split) == {'training', 'validation', 'test'}
    report = cleaning_report(scan_dataset(tiny_cfg, progress=False))
    assert sorted(report.index) == sorted(plan.index[plan.defect != ''])
    # the same code path serves a folder given by path (as real FMA is)
    same = clip_table(tiny_cfg.replace(dataset=str(root)), progress=False)
    pd.testing.assert_frame_equal(same, clips)
    # unknown track id
    with pytest.raises(KeyError, match=f'track 1 is not a clean clip of the dataset at {root}'): get_clip(clips, 1)
    assert get_clip(clips, clips.index[0]).genre == clips.genre.iloc[0]


def test_the_scan_hands_each_good_clips_decode_to_keep(tiny_cfg):
    "`keep(split)` gives what receives a good clip's samples (None: not that split's); a clip the scan excludes is never handed over."
    root = dataset_root(tiny_cfg); (root/'.scan-cache.csv').unlink(missing_ok=True)
    got = []
    keep = lambda split: None if split == 'test' else (lambda path, x: got.append((str(path), split, len(x))))
    s = scan_dataset(tiny_cfg, n_jobs=1, progress=False, keep=keep)
    good = s[(s.reason == '') & (s.split != 'test')]
    assert sorted(got) == sorted(zip(good.path, good.split, good.samples)) and len(good) < len(s)
    got.clear(); scan_dataset(tiny_cfg, n_jobs=1, progress=False, keep=keep)
    assert got == []                                         # a scan the cache answers decodes nothing, so hands nothing over


def test_clip_that_cannot_be_decoded_during_training(tiny_cfg):
    clips = clip_table(tiny_cfg, progress=False)
    p = Path(clips.path.iloc[0]); backup = p.read_bytes()
    try:
        p.write_bytes(backup[:100])
        with pytest.raises(AudioError, match=p.name): load_audio(p, offset=0, frames=N)
    finally: p.write_bytes(backup)


def _make_read_only(folder: Path, monkeypatch):
    "Make every open-for-writing under `folder` fail with EROFS, as on a read-only disk (for root, who ignores chmod)."
    import builtins, errno
    real_open, real_os_open = builtins.open, os.open
    inside = lambda f: isinstance(f, (str, os.PathLike)) and Path(os.path.abspath(f)).is_relative_to(folder)
    def ro(f): return OSError(errno.EROFS, os.strerror(errno.EROFS), str(f))
    def ro_open(f, mode='r', *a, **k):
        if inside(f) and any(c in mode for c in 'wax+'): raise ro(f)
        return real_open(f, mode, *a, **k)
    def ro_os_open(f, flags, *a, **k):
        if inside(f) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT): raise ro(f)
        return real_os_open(f, flags, *a, **k)
    monkeypatch.setattr(builtins, 'open', ro_open); monkeypatch.setattr(os, 'open', ro_os_open)


def test_read_only_dataset_folder(tiny_cfg, monkeypatch, capsys):
    """Issue 13: a finished dataset in a read-only folder is used as it is: no lock file, the scan cache kept in memory.
    The folders are chmod-ed read-only; where that does not stop writes (tests run as root, which ignores permission
    bits), every open-for-writing under the data folder is made to fail with EROFS instead (`_make_read_only`)."""
    clip_table(tiny_cfg, progress=False)                          # generated (once) and scanned
    root = dataset_root(tiny_cfg); top = root.parent
    (root/'.scan-cache.csv').unlink()                             # so the scan runs again and cannot save its cache
    for lock in top.glob('.*.lock'): lock.unlink()                # and no lock file may appear
    modes = {p: p.stat().st_mode for p in (top, root)}
    try:
        for p in modes: p.chmod(0o555)
        try: (root/'.probe').touch(); (root/'.probe').unlink(); simulated = True
        except PermissionError: simulated = False
        if simulated: _make_read_only(top, monkeypatch)
        first = clip_table(tiny_cfg, progress=False)
        second = clip_table(tiny_cfg, progress=False)
    finally:
        monkeypatch.undo()
        for p, m in modes.items(): p.chmod(m)
    pd.testing.assert_frame_equal(first, second)
    assert sorted(first.index) == sorted(plan_dataset(3, 5).query("defect == ''").index)
    err = capsys.readouterr().err
    assert err.count('scan-cache.csv') == 1 and 'kept in memory only' in err, err      # said once, not on every scan
    assert not list(top.glob('.*.lock')) and not (root/'.scan-cache.csv').exists()


def test_missing_dataset_folder(tmp_path):
    cfg = CFG.replace(dataset=str(tmp_path/'no_fma'))
    with pytest.raises(FileNotFoundError, match=r'no_fma/fma_metadata/tracks.csv not found.*mgr download'): clip_table(cfg, progress=False)
    (tmp_path/'no_fma'/'fma_metadata').mkdir(parents=True)
    shutil.copy(TRACKS_HEAD, tmp_path/'no_fma'/'fma_metadata'/'tracks.csv')
    # metadata present, audio absent: the error names fma_small/ (catches a check for fma_small/ that was dropped)
    with pytest.raises(FileNotFoundError, match=r'no_fma/fma_small not found'): ensure_dataset(cfg)
    (tmp_path/'no_fma'/'fma_small').mkdir()
    assert ensure_dataset(cfg) == tmp_path/'no_fma'


def test_clip_table_on_real_fma_metadata(tmp_path):
    "Real FMA metadata (the fixture's 22 small tracks) with stand-in audio, given as a folder path: the FMA code path."
    root = tmp_path/'fma'
    (root/'fma_metadata').mkdir(parents=True)
    shutil.copy(TRACKS_HEAD, root/'fma_metadata'/'tracks.csv')
    small = subset_clips(load_tracks(TRACKS_HEAD))
    t = np.arange(int(6.2*44_100))/44_100
    for i, tid in enumerate(small.index):
        p = audio_path(root, tid); p.parent.mkdir(parents=True, exist_ok=True)
        secs = 3.0 if i == 0 else 6.2                                       # the first clip is too short
        sf.write(p, (0.3*np.sin(2*np.pi*440*t[:int(secs*44_100)])).astype(np.float32), 44_100, format='MP3')
    cfg = CFG.replace(dataset=str(root))
    clips = clip_table(cfg, progress=False)
    assert list(clips.index) == list(small.index[1:])
    assert (clips.genre == small.genre[1:]).all() and (clips.split == small.split[1:]).all()
    report = cleaning_report(scan_dataset(cfg, progress=False))
    assert report.reason.to_dict() == {small.index[0]: 'too short'}
    assert (root/'.scan-cache.csv').exists()
