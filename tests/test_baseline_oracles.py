"""The clip-mean-MFCC baseline (chapter 03a) with other settings than the defaults: its config, its seed, its cross-validation
folds, the edges of its checks and its progress bar. Written against the mutants `make mutants` left alive in
`mgr_course/baseline.py` (README, "Mutation testing"); each test names the mutations it catches."""
import numpy as np, pandas as pd, pytest, torch
import sklearn.model_selection
from mgr_course.config import CFG, GENRES
from mgr_course.features import MFCC
from mgr_course.baseline import mfcc_baseline, clip_mean_mfccs, clip_mean_mfcc

RATE = CFG.sample_rate


def tone(i, seconds=0.5):
    "Clip i: a tone in the register of its genre (i % 4) with a little noise, at the course's rate."
    rng, t = np.random.default_rng(i), np.arange(int(RATE * seconds)) / RATE
    return (0.3 * np.sin(2 * np.pi * 150 * 2 ** (i % 4) * t) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def table(n, test_from):
    "n clips of 4 genres, clip i of genre i % 4; clips test_from.. are the test split. Audio is handed in, no files."
    rows = [dict(genre=GENRES[i % 4], label=i % 4, split='test' if i >= test_from else 'training', path=f'{i}.wav') for i in range(n)]
    return pd.DataFrame(rows, index=pd.Index(range(300, 300 + n), name='track_id'))


def test_clip_mean_follows_the_config():
    "13 coefficients from a Config asking for 13: the time-average of that config's MFCC (catches the config not reaching MFCC)."
    cfg = CFG.replace(n_mfcc=13)
    clips = [tone(i) for i in range(3)]
    X = clip_mean_mfccs(clips.__getitem__, 3, cfg, progress=False)
    with torch.no_grad(): want = np.stack([MFCC(cfg)(torch.from_numpy(y)[None, None])[0, 0].mean(-1).numpy() for y in clips])
    assert X.shape == (3, 13) and X.dtype == np.float32
    np.testing.assert_allclose(X, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(clip_mean_mfcc(clips[1], cfg), want[1], rtol=1e-6, atol=1e-6)
    assert clip_mean_mfcc(clips[1]).shape == (CFG.n_mfcc,)


def test_progress_bar_shown_by_default_and_silent_when_asked(capsys):
    "Catches the progress default flipped, `disable` inverted or left to tqdm, and the bar's description changed or kept."
    clips = [tone(i) for i in range(2)]
    capsys.readouterr()
    clip_mean_mfccs(clips.__getitem__, 2, progress=False)
    clip_mean_mfcc(clips[0])
    assert capsys.readouterr().err == ''
    clip_mean_mfccs(clips.__getitem__, 2)
    err = capsys.readouterr().err
    assert err.startswith('\rclip-mean MFCCs of 2 clips:   0%|') and err.endswith('\r') and '\n' not in err


def test_config_with_fewer_genres_and_its_seed_and_folds(monkeypatch):
    "A Config of 4 genres gives 4 probability columns; the seed and the fold count reach the stratified, shuffled folds; two"
    " clips of each genre are enough (catches the genre count, seed, shuffle or fold rule changed, and `< 2` made stricter)."
    seen, real = [], sklearn.model_selection.StratifiedKFold
    def spy(*a, **kw): seen.append((a, kw)); return real(*a, **kw)
    monkeypatch.setattr(sklearn.model_selection, 'StratifiedKFold', spy)
    cfg = CFG.replace(genres=GENRES[:4])
    clips, audio = table(12, 8), [tone(i) for i in range(12)]
    b = mfcc_baseline(clips, audio.__getitem__, progress=False, seed=7, cfg=cfg)
    assert b['probs'].shape == (4, 4) and b['probs'].dtype == np.float32 and b['folds'] == 3       # 3 clips of each genre
    assert seen == [((3,), dict(shuffle=True, random_state=7))]
    np.testing.assert_allclose(b['probs'].sum(1), 1, rtol=1e-6)
    two = mfcc_baseline(table(8, 4), [tone(i) for i in range(8)].__getitem__, progress=False, cfg=cfg)    # 2 clips of each genre
    assert two['folds'] == 2 and seen[-1] == ((2,), dict(shuffle=True, random_state=0))


def test_check_messages_whole():
    "The errors a user reads, whole: the labels' bound is K - 1, the genres too small are named."
    clips, audio = table(8, 4), [tone(i) for i in range(8)]
    with pytest.raises(ValueError, match=r'^mfcc_baseline: labels \[8\] are outside 0\.\.7 \(cfg\.genres has 8 genres\)$'):
        mfcc_baseline(clips.assign(label=clips.label.replace(3, 8)), audio.__getitem__, progress=False)
    with pytest.raises(ValueError, match=r"^mfcc_baseline: genres \['Electronic'\] have fewer than 2 clips: cross-validation needs 2 per genre$"):
        mfcc_baseline(clips.drop(index=300), audio[1:].__getitem__, progress=False)
