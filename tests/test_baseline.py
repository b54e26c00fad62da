"The clip-mean-MFCC baseline: bad clip tables, missing files, and audio handed in instead of decoded."
from pathlib import Path
import numpy as np, pandas as pd, pytest, soundfile as sf
from mgr_course.config import CFG
from mgr_course.data import AudioError, load_audio
from mgr_course.baseline import mfcc_baseline, clip_mean_mfccs, clip_mean_mfcc


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
    with pytest.raises(ValueError, match='no test clips'): mfcc_baseline(wavs.assign(split='training'), progress=False)
    with pytest.raises(ValueError, match='no training clips'): mfcc_baseline(wavs.assign(split='test'), progress=False)


def test_bad_labels_and_tiny_genres(wavs):
    with pytest.raises(ValueError, match=r'labels \[8\] are outside'): mfcc_baseline(wavs.assign(label=wavs.label.replace(3, 8)), progress=False)
    with pytest.raises(ValueError, match='fewer than 2 clips'): mfcc_baseline(wavs.iloc[1:], progress=False)


def test_missing_file_is_named(wavs, tmp_path):
    bad = wavs.copy(); bad.loc[103, 'path'] = str(tmp_path/'gone.mp3')
    with pytest.raises(AudioError, match='gone.mp3: no such file'): mfcc_baseline(bad, progress=False)


def test_probs_cover_every_genre(wavs):
    b = mfcc_baseline(wavs, progress=False)
    assert b['probs'].shape == (4, CFG.n_classes) and (b['probs'][:, 4:] == 0).all()   # genres absent from training: 0
    np.testing.assert_allclose(b['probs'].sum(1), 1, atol=1e-5)
    assert list(b['track_ids']) == [100, 102, 104, 106] and list(b['labels']) == [0, 1, 2, 3] and b['folds'] == 2


def test_audio_handed_in_gives_what_decoding_gives(wavs):
    "The results chapter hands the baseline its already-decoded clips: the same features and predictions as decoding each file."
    decoded = [load_audio(p, CFG.sample_rate) for p in wavs.path]
    want = mfcc_baseline(wavs, progress=False)
    got = mfcc_baseline(wavs, audio=decoded.__getitem__, progress=False)
    np.testing.assert_array_equal(got['probs'], want['probs'])
    X = clip_mean_mfccs(decoded.__getitem__, len(decoded), progress=False)
    assert X.shape == (8, CFG.n_mfcc) and np.allclose(X[0], clip_mean_mfcc(decoded[0]))
    assert not np.allclose(X[0], X[2])                                      # different tones, different timbre


def test_baseline_learns_separable_genres(tmp_path):
    "Four genres, each its own register (a tone with noise), 3 training and 2 test clips each: the baseline scores far above"
    " chance (1/4) on the test split and in cross-validation; uniform or shuffled probabilities, or a model never fitted, fail."
    rng, rows = np.random.default_rng(0), []
    for i in range(20):
        g, t = i % 4, np.arange(22_050)/22_050
        y = 0.3*np.sin(2*np.pi*(150*2**g)*t*(1 + 0.02*rng.standard_normal())) + 0.02*rng.standard_normal(t.size)
        sf.write(tmp_path/f'{i}.wav', y.astype(np.float32), 22_050)
        rows.append(dict(genre=CFG.genres[g], label=g, split='test' if i >= 12 else 'training', path=str(tmp_path/f'{i}.wav')))
    clips = pd.DataFrame(rows, index=pd.Index(range(200, 220), name='track_id'))
    b = mfcc_baseline(clips, progress=False)
    assert (b['n_train'], b['n_test'], b['n_clips'], b['folds']) == (12, 8, 20, 5)
    assert b['test_accuracy'] == 1.0 and b['cv_accuracy'] >= 0.9, (b['test_accuracy'], b['cv_accuracy'])
    assert b['test_accuracy'] == (b['probs'].argmax(1) == b['labels']).mean()
    assert (b['probs'].max(1) > 0.5).all()                                  # confident, not uniform
