"The synthetic stand-in: FMA's layout, determinism, planted defects, atomic and concurrent generation."
import hashlib, os, subprocess, sys, textwrap
from pathlib import Path
import numpy as np, pandas as pd, pytest, soundfile as sf
import mgr_course.synthetic as synthetic
from mgr_course.config import CFG
from mgr_course.synthetic import generate_synthetic, plan_dataset, split_sizes, write_mp3, DEFECTS, COMPLETE
from mgr_course.music import draw_song, GENRE_STYLES
from mgr_course.songs import render_song
from mgr_course.data import load_tracks, subset_clips, scan_clips, audio_path

PER_GENRE, SECONDS, SEED = 3, 6.5, 11
FEW = ('Pop', 'Rock')            # a two-genre dataset (6 clips) for the tests that generate more than once


def _digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(root.rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    return generate_synthetic(tmp_path_factory.mktemp('syn')/'ds', PER_GENRE, SECONDS, SEED, progress=False)


def test_layout_is_fmas(dataset):
    lines = (dataset/'fma_metadata'/'tracks.csv').read_text().splitlines()
    assert lines[0].startswith(',album,') and lines[1].startswith(',title,') and lines[2].startswith('track_id,')
    assert (dataset/'fma_metadata'/'genres.csv').read_text().startswith('genre_id,#tracks,parent,title,top_level')
    tracks = load_tracks(dataset/'fma_metadata'/'tracks.csv')
    assert (tracks['set', 'subset'] != 'small').sum() >= 2                 # other subsets listed, as in FMA
    clips = subset_clips(tracks)
    assert clips.genre.value_counts().to_dict() == {g: PER_GENRE for g in CFG.genres}
    assert clips.split.value_counts().to_dict() == {'training': 8, 'validation': 8, 'test': 8}
    assert tracks[('track', 'title')].str.contains('\n').any() and tracks[('track', 'title')].str.contains(',').any()
    files = sorted(p.relative_to(dataset).as_posix() for p in (dataset/'fma_small').rglob('*.mp3'))
    assert files == sorted(audio_path(Path('.'), t).as_posix() for t in clips.index)
    kinds = set()
    for t, d in plan_dataset(PER_GENRE, SEED).defect.items():
        if not d: i = sf.info(audio_path(dataset, t)); kinds.add((i.samplerate, i.channels)); assert i.format == 'MP3'
    assert {sr for sr, _ in kinds} == {44_100, 48_000} and {c for _, c in kinds} == {1, 2}


def test_scan_finds_exactly_the_planted_defects(dataset):
    plan = plan_dataset(PER_GENRE, SEED)
    paths = pd.Series({t: str(audio_path(dataset, t)) for t in plan.index})
    s = scan_clips(paths, n_jobs=1, progress=False)
    expected = {'truncated': 'too short', 'empty': 'empty', 'silent': 'silent', 'short': 'too short', 'garbage': 'undecodable'}
    assert sorted(plan.defect[plan.defect != '']) == sorted(DEFECTS)
    assert s.reason.to_dict() == {t: expected.get(d, '') for t, d in plan.defect.items()}
    good = s.reason == ''
    assert (s.samples[good] >= CFG.crop_samples).all()


def test_deterministic(tmp_path):
    one = generate_synthetic(tmp_path/'one', PER_GENRE, SECONDS, SEED, FEW, n_jobs=1, progress=False)
    two = generate_synthetic(tmp_path/'two', PER_GENRE, SECONDS, SEED, FEW, n_jobs=2, progress=False)
    assert _digest(one) == _digest(two)            # same bytes, whatever the number of processes
    other = plan_dataset(PER_GENRE, SEED + 1)
    assert not other.index.equals(plan_dataset(PER_GENRE, SEED).index)


def test_second_call_is_a_no_op(dataset):
    before = _digest(dataset)
    assert generate_synthetic(dataset, PER_GENRE, SECONDS, SEED, progress=False) == dataset
    assert _digest(dataset) == before


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    calls = []
    def boom(args):
        calls.append(args)
        if len(calls) == 3: raise KeyboardInterrupt
        synthetic.make_clip(*args)
    monkeypatch.setattr(synthetic, '_make_clip_row', boom)
    with pytest.raises(KeyboardInterrupt): generate_synthetic(tmp_path/'ds', PER_GENRE, SECONDS, SEED, FEW, n_jobs=1, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.ds.lock']      # no dataset, no temporary folder


def test_incomplete_folder_is_refused(tmp_path):
    (tmp_path/'ds'/'fma_small').mkdir(parents=True)
    with pytest.raises(FileExistsError, match=COMPLETE): generate_synthetic(tmp_path/'ds', PER_GENRE, SECONDS, SEED, progress=False)


def test_bad_sizes():
    with pytest.raises(ValueError, match='at least one crop'): generate_synthetic('/tmp/never', PER_GENRE, 3, SEED)
    with pytest.raises(ValueError, match='at least 3'): plan_dataset(2, SEED)
    with pytest.raises(ValueError, match='at least 3'): plan_dataset(4, SEED, valid_fraction=.4, test_fraction=.4)
    with pytest.raises(ValueError, match='their sum below 1'): split_sizes(100, .6, .5)
    with pytest.raises(ValueError, match='each must be in'): split_sizes(100, 0, .1)
    with pytest.raises(ValueError, match='at least 3'):            # refused before anything is written
        generate_synthetic('/tmp/never', 3, SECONDS, SEED, test_fraction=.5, valid_fraction=.4)
    assert not Path('/tmp/never').exists()


def test_split_fractions():
    counts_of = lambda **kw: plan_dataset(160, SEED, **kw).groupby('genre').split.value_counts().unstack()
    counts = counts_of(valid_fraction=30/160, test_fraction=30/160)
    assert (counts['training'] == 100).all() and (counts['validation'] == 30).all() and (counts['test'] == 30).all()
    counts = counts_of()                                              # FMA's 80/10/10
    assert (counts['training'] == 128).all() and (counts['validation'] == 16).all() and (counts['test'] == 16).all()
    assert split_sizes(3) == (1, 1, 1) and split_sizes(40, .2, .1) == (28, 8, 4)


def test_write_mp3_without_lameenc(tmp_path, monkeypatch):
    "Without the optional lameenc, clips are still FMA's format (libsndfile's LAME, slower)."
    y = (0.3*np.sin(2*np.pi*440*np.arange(48_000*3)/48_000)).astype(np.float32)
    monkeypatch.setitem(sys.modules, 'lameenc', None)                # `import lameenc` now raises ImportError
    write_mp3(tmp_path/'m.mp3', y, 48_000); write_mp3(tmp_path/'s.mp3', np.stack([y, y], 1), 48_000)
    for name, ch in (('m.mp3', 1), ('s.mp3', 2)):
        i = sf.info(tmp_path/name)
        assert (i.format, i.samplerate, i.channels) == ('MP3', 48_000, ch) and i.frames >= len(y)


def test_two_processes_make_one_dataset(tmp_path):
    code = textwrap.dedent(f"""
        from mgr_course.synthetic import generate_synthetic
        generate_synthetic({str(tmp_path/'ds')!r}, {PER_GENRE}, {SECONDS}, {SEED}, {FEW!r}, n_jobs=1, progress=False)
        """)
    procs = [subprocess.Popen([sys.executable, '-c', code], stderr=subprocess.PIPE) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.ds.lock', 'ds']
    alone = generate_synthetic(tmp_path/'alone', PER_GENRE, SECONDS, SEED, FEW, n_jobs=1, progress=False)
    assert _digest(tmp_path/'ds') == _digest(alone)


def test_no_silent_songs():
    "Every song plays something: a lead when the chords would not and no voice speaks (draw_song), and the lead's first note always (render_song)."
    songs = [draw_song(g, np.random.default_rng(s), genres=tuple(GENRE_STYLES)) for g in GENRE_STYLES for s in range(200)]
    assert not any(s['lead'] == 'none' and s['chords'] in ('none', 'cluster') and s['texture'] != 'speech' for s in songs)
    spoken = next(s for s in songs if s['lead'] == 'none' and s['chords'] == 'none')      # the 16-genre stand-in's Spoken: a voice alone
    assert spoken['texture'] == 'speech' and np.abs(render_song(spoken, 6.5, 44_100, np.random.default_rng(0))).max() > 0.1
    rng = np.random.default_rng([5, 29794])                  # a sparse experimental song that once rendered to silence
    assert np.abs(render_song(draw_song('Experimental', rng), 6.5, 44_100, rng)).max() > 0.1
