"FMA's larger subsets (medium, large) and the 16-genre unbalanced stand-in: download, layout, labels, errors, the CLI."
import hashlib, json, shutil
from pathlib import Path
import numpy as np, pandas as pd, pytest
import mgr_course.files as files, mgr_course.data as data
from mgr_course.config import CFG, Config, GENRES, GENRES_16, FMA_SUBSETS, FMA_MEDIUM_GENRE_CLIPS
from mgr_course.data import download_fma, clip_table, scan_dataset, ensure_dataset, subset_clips, load_tracks, audio_path
from mgr_course.synthetic import generate_synthetic, genre_counts, plan_dataset, make_clip, DEFECTS
from mgr_course.music import draw_song
from mgr_course.cli import main
from test_download import Server, _zip


@pytest.fixture
def server():
    s = Server(); yield s; s.close()


def _medium_server(server):
    meta = _zip({'fma_metadata/tracks.csv': b'x'})
    medium = _zip({'fma_medium/000/000002.mp3': b'mp3', 'fma_medium/checksums': b'c'})
    server.files.update({'/fma/fma_metadata.zip': meta, '/fma/fma_medium.zip': medium})
    return CFG.replace(fma_url=server.url + '/fma/', fma_metadata_sha1=hashlib.sha1(meta).hexdigest(),
                       fma_medium_sha1=hashlib.sha1(medium).hexdigest())


def test_download_medium_says_its_size_checks_space_and_extracts(server, tmp_path, monkeypatch, capsys):
    cfg = _medium_server(server)
    monkeypatch.setattr(files, 'free_bytes', lambda folder: 2 * 10**8)          # 200 MB: the server's archives (it says their sizes) and the margin
    assert download_fma(tmp_path, 'medium', cfg) == tmp_path
    assert (tmp_path/'fma_medium'/'000'/'000002.mp3').read_bytes() == b'mp3'
    out = capsys.readouterr().err                                              # stderr, beside the progress bars: stdout is for results
    assert f"fma_medium.zip ({len(server.files['/fma/fma_medium.zip'])} B)" in out and str(tmp_path) in out, out
    assert [p for p, _ in server.log] == ['/fma/fma_metadata.zip', '/fma/fma_medium.zip']


def test_download_refused_before_any_byte_when_the_disk_is_too_small(server, tmp_path, monkeypatch):
    cfg = _medium_server(server)
    monkeypatch.setattr(files, 'free_bytes', lambda folder: 10 * 2**30)        # 10 GiB free; medium needs 2 x 22 GiB
    monkeypatch.setattr(data, '_remote_size', lambda url: None)                # a host that does not say: FMA's published sizes
    with pytest.raises(files.NotEnoughSpace, match=r'FMA medium needs 49.3 GB in .* but only 10.7 GB is free'):
        download_fma(tmp_path, 'medium', cfg, progress=False)
    assert server.log == [] and not list(tmp_path.iterdir())                   # nothing fetched, nothing written
    with pytest.raises(ValueError, match='small, medium, large'): download_fma(tmp_path, 'huge', cfg)


def test_the_sha1s_are_the_published_ones():
    assert [Config(subset=s).subset_sha1 for s in FMA_SUBSETS] == ['ade154f733639d52e35e32f5593efe5be76c6d70',
        'c67b69ea232021025fca9231fc1c7c1a063ab50b', '497109f4dd721066b5ce5e5f250ec604dc78939e']


def _fake_fma(root: Path, fixtures_dir, subset: str, n: int = 12) -> pd.DataFrame:
    "FMA's real tracks.csv head as the metadata, and `n` of `subset`'s tracks as rendered mp3s in fma_<subset>/."
    (root/'fma_metadata').mkdir(parents=True)
    shutil.copy(fixtures_dir/'fma_metadata'/'tracks_head.csv', root/'fma_metadata'/'tracks.csv')
    clips = subset_clips(load_tracks(root/'fma_metadata'/'tracks.csv'), CFG.replace(subset=subset))
    for t, r in clips.iloc[:n].iterrows():
        make_clip(audio_path(root, t, subset), t, r.genre if r.genre in GENRES else 'Folk', 44_100, 1, '', CFG.crop_seconds + 0.2, seed=0)
    return clips


def test_fake_fma_medium_clip_table(tmp_path, fixtures_dir):
    clips = _fake_fma(tmp_path/'fma', fixtures_dir, 'medium')
    cfg = CFG.replace(dataset=str(tmp_path/'fma'), subset='medium')
    s = scan_dataset(cfg, n_jobs=1, progress=False)
    assert len(s) == len(clips) and set(s.index) > set(subset_clips(load_tracks(tmp_path/'fma'/'fma_metadata'/'tracks.csv')).index)
    assert all('/fma_medium/' in p for p in s.path)
    assert set(s.reason[s.reason != '']) == {'missing'}                       # the tracks without an mp3 here: excluded by the scan
    t = clip_table(cfg, progress=False)
    assert len(t) == 12 and cfg.n_classes == 16
    assert [cfg.genres[i] for i in t.label] == t.genre.tolist()               # labels index FMA's 16 top genres
    assert (t.genre.map(GENRES_16.index) == t.label).all()


def test_a_subset_that_is_not_there_names_the_command_that_fetches_it(tmp_path, fixtures_dir, capsys):
    _fake_fma(tmp_path/'fma', fixtures_dir, 'medium', n=1)
    with pytest.raises(FileNotFoundError, match=r'fma_small not found.*`mgr download --dest '): ensure_dataset(CFG.replace(dataset=str(tmp_path/'fma')))
    with pytest.raises(FileNotFoundError, match=r'fma_large not found.*`mgr download --subset large --dest '):
        ensure_dataset(CFG.replace(dataset=str(tmp_path/'fma'), subset='large'))
    with pytest.raises(SystemExit) as e: main(['scan', '--data', str(tmp_path/'fma'), '--subset', 'large'])
    assert 'mgr download --subset large' in str(e.value) and '\n' not in str(e.value)
    with pytest.raises(SystemExit): main(['scan', '--subset', 'huge'])
    assert 'invalid choice' in capsys.readouterr().err


def test_16_genre_unbalanced_stand_in(tmp_path):
    counts = genre_counts(20, GENRES_16, 'medium')
    share = np.array([FMA_MEDIUM_GENRE_CLIPS[g] for g in GENRES_16], float)
    big = share > 3 * share.sum() / len(counts) / 20                           # genres whose share is above the floor of 3 clips
    assert min(counts) == 3 and np.allclose(np.array(counts)[big] / sum(counts), share[big] / share.sum(), atol=0.01)
    root = generate_synthetic(tmp_path/'ds', 6, CFG.crop_seconds + 0.2, 0, GENRES_16, n_jobs=1, progress=False,
                              valid_fraction=0.1, test_fraction=0.1, subset='medium')
    assert sorted(p.name for p in root.iterdir()) == ['.complete', 'fma_medium', 'fma_metadata']
    tracks = load_tracks(root/'fma_metadata'/'tracks.csv')
    assert set(tracks['set', 'subset'].astype(str)) == {'medium', 'large'}    # its own tracks, and a few of the larger subset's
    assert len(pd.read_csv(root/'fma_metadata'/'genres.csv')) == 16
    t = clip_table(CFG.replace(dataset=str(root), subset='medium'), progress=False)
    per = t.groupby(['genre', 'split']).size().unstack(fill_value=0)
    assert len(per) == 16 and (per[['training', 'validation', 'test']] >= 1).all().all()   # every genre in every split, defects included
    assert t.genre.value_counts().idxmax() == 'Rock'


def test_the_eight_genre_stand_in_is_unchanged():
    "The default plan and songs are pinned: the 16-genre styles and options must not move a single draw of the 8-genre stand-in."
    plan = plan_dataset(6, 0, GENRES, DEFECTS, CFG.synthetic_valid_fraction, CFG.synthetic_test_fraction)
    songs = [draw_song(g, np.random.default_rng([0, int(t)]), 0.15) for t, g in plan.genre.items()]
    digest = hashlib.sha1((plan.to_csv() + json.dumps(songs, sort_keys=True, default=str)).encode()).hexdigest()
    assert digest == PINNED, digest


PINNED = '26f2827ff4262d5831cc09df124fde5632098cbc'   # plan and songs of the stand-in before the 16-genre styles existed (commit aa749f5)
