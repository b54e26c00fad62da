"The clip-mean-MFCC baseline: bad clip tables, missing files and damaged caches."
import shutil
from pathlib import Path
import numpy as np, pandas as pd, pytest, soundfile as sf
from mgr_course.config import CFG
from mgr_course.data import AudioError
from mgr_course.baseline import mfcc_baseline, clip_mean_mfccs


@pytest.fixture(scope='module')
def wavs(tmp_path_factory):
    "Eight 1-second tones, two per genre of the first four genres: half training, half test."
    d = tmp_path_factory.mktemp('wavs'); rows = []
    for i in range(8):
        t = np.arange(22_050)/22_050
        sf.write(d/f'{i}.wav', (0.3*np.sin(2*np.pi*(200 + 150*(i//2))*t)).astype(np.float32), 22_050)
        rows.append(dict(genre=CFG.genres[i//2], label=i//2, split='training' if i % 2 else 'test', path=str(d/f'{i}.wav')))
    return pd.DataFrame(rows, index=pd.Index(range(100, 108), name='track_id'))


def test_needs_a_test_and_a_training_split(wavs):
    with pytest.raises(ValueError, match='no test clips'): mfcc_baseline(wavs.assign(split='training'), n_jobs=1, progress=False)
    with pytest.raises(ValueError, match='no training clips'): mfcc_baseline(wavs.assign(split='test'), n_jobs=1, progress=False)


def test_bad_labels_and_tiny_genres(wavs):
    with pytest.raises(ValueError, match=r'labels \[8\] are outside'): mfcc_baseline(wavs.assign(label=wavs.label.replace(3, 8)), n_jobs=1, progress=False)
    with pytest.raises(ValueError, match='fewer than 2 clips'): mfcc_baseline(wavs.iloc[1:], n_jobs=1, progress=False)


def test_missing_file_is_named(wavs, tmp_path):
    bad = wavs.copy(); bad.loc[103, 'path'] = str(tmp_path/'gone.mp3')
    with pytest.raises(AudioError, match='gone.mp3: no such file'): mfcc_baseline(bad, n_jobs=1, progress=False)


def test_probs_cover_every_genre(wavs):
    b = mfcc_baseline(wavs, n_jobs=1, progress=False)
    assert b['probs'].shape == (4, CFG.n_classes) and (b['probs'][:, 4:] == 0).all()   # genres absent from training: 0
    np.testing.assert_allclose(b['probs'].sum(1), 1, atol=1e-5)
    assert list(b['track_ids']) == [100, 102, 104, 106] and list(b['labels']) == [0, 1, 2, 3] and b['folds'] == 2


def test_damaged_or_stale_cache_is_rebuilt(wavs, tmp_path):
    cache = tmp_path/'c.npz'
    for p in wavs.path: shutil.copy(p, tmp_path)                                         # copies: this test changes one
    wavs = wavs.assign(path=[str(tmp_path/Path(p).name) for p in wavs.path])
    want = clip_mean_mfccs(wavs.path, cache=cache, n_jobs=1, progress=False)
    cache.write_bytes(b'not a cache')
    np.testing.assert_array_equal(clip_mean_mfccs(wavs.path, cache=cache, n_jobs=1, progress=False), want)
    sf.write(wavs.path.iloc[0], np.zeros(22_050, np.float32) + 0.1*np.random.default_rng(0).standard_normal(22_050).astype(np.float32), 22_050)
    again = clip_mean_mfccs(wavs.path, cache=cache, n_jobs=1, progress=False)         # the changed clip is analysed again
    assert not np.allclose(again[0], want[0]) and np.allclose(again[1:], want[1:])
