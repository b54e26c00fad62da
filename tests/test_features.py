"Features: shapes, agreement with librosa and torchaudio, DCT orthonormality, anti-aliasing, bad input."
import math, warnings
from pathlib import Path
import numpy as np
import pytest
import torch
import librosa
from mgr_course.config import CFG, import_torchaudio
from mgr_course.features import (hz_to_mel, mel_to_hz, mel_band_edges, mel_filterbank, power_to_db, dct_matrix,
                                 LogMelSpectrogram, MFCC, RawAudio, sinc_lowpass_kernel)

torchaudio = import_torchaudio()
# both libraries warn that a few of 128 low bands are empty at the paper's settings (the chapter explains why)
pytestmark = pytest.mark.filterwarnings('ignore:.*(Empty filters|all zero values).*')
SR = CFG.sample_rate
from conftest import FIXTURES   # the one definition of where the fixtures are: the clone's fixtures/

def generated_clips():
    rng = np.random.default_rng(0)
    t = np.arange(CFG.crop_samples) / SR
    return {'chirp': librosa.chirp(fmin=50, fmax=20_000, sr=SR, length=CFG.crop_samples) * 0.3,
            'noise': rng.standard_normal(CFG.crop_samples) * 0.1,
            'tones': np.sin(2 * np.pi * 440 * t) * 0.5 + np.sin(2 * np.pi * 5000 * t) * 0.05 + rng.standard_normal(CFG.crop_samples) * 1e-4}

def references(y, scale, norm, pad_mode, top_db=CFG.top_db):
    "librosa's and torchaudio's log-mel of `y` (float64, all 513 frames)."
    S = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=CFG.n_fft, hop_length=CFG.hop_length, n_mels=CFG.n_mels, htk=scale == 'htk',
                                       norm=norm, pad_mode=pad_mode, dtype=np.float64)
    lib = librosa.power_to_db(S, top_db=top_db)
    default = torch.get_default_dtype(); torch.set_default_dtype(torch.float64)
    try: tm = torchaudio.transforms.MelSpectrogram(SR, n_fft=CFG.n_fft, hop_length=CFG.hop_length, n_mels=CFG.n_mels, mel_scale=scale,
                                                  norm=norm, pad_mode=pad_mode)
    finally: torch.set_default_dtype(default)
    ta = torchaudio.transforms.AmplitudeToDB('power', top_db=top_db)(tm(torch.from_numpy(y))).numpy()
    return lib, ta

def ours(y, **kw):
    return LogMelSpectrogram(drop_last=False, **kw)(torch.from_numpy(np.asarray(y, np.float64))[None, None])[0, 0].numpy()

def test_shapes():
    x = torch.randn(2, 1, CFG.crop_samples) * 0.1
    assert LogMelSpectrogram()(x).shape == (2, *CFG.mel_shape) == (2, 1, 128, 512)
    assert MFCC()(x).shape == (2, *CFG.mfcc_shape) == (2, 1, 20, 512)
    assert RawAudio()(x).shape == (2, *CFG.raw_shape) == (2, 1, 131072)
    assert LogMelSpectrogram(drop_last=False)(x).shape[-1] == 513

def test_mel_scales():
    f = torch.linspace(0, SR / 2, 500, dtype=torch.float64)
    for s in ['paper', 'htk', 'slaney']: assert torch.allclose(mel_to_hz(hz_to_mel(f, s), s), f, atol=1e-7)
    assert abs(float(hz_to_mel(1000.)) - 1000) < 1e-9
    assert np.allclose(hz_to_mel(f, 'slaney').numpy(), librosa.hz_to_mel(f.numpy()), atol=1e-9)
    assert np.allclose(hz_to_mel(f, 'htk').numpy(), librosa.hz_to_mel(f.numpy(), htk=True), atol=1e-9)
    e = mel_band_edges()
    assert len(e) == CFG.n_mels + 2 and float(e[0]) == 0 and abs(float(e[-1]) - SR / 2) < 1e-6 and bool((e.diff() > 0).all())

@pytest.mark.parametrize('scale,htk', [('htk', True), ('slaney', False)])
@pytest.mark.parametrize('norm', [None, 'slaney'])
def test_filterbank_matches_librosa(scale, htk, norm):
    lib = librosa.filters.mel(sr=SR, n_fft=CFG.n_fft, n_mels=CFG.n_mels, htk=htk, norm=norm, dtype=np.float64)
    assert np.abs(mel_filterbank(scale=scale, norm=norm).numpy() - lib).max() < 1e-12

@pytest.mark.parametrize('scale', ['htk', 'slaney'])
@pytest.mark.parametrize('norm', [None, 'slaney'])
@pytest.mark.parametrize('pad_mode', ['reflect', 'constant'])
def test_logmel_agrees_on_generated_clips(scale, norm, pad_mode):
    for name, y in generated_clips().items():
        o = ours(y, scale=scale, norm=norm, pad_mode=pad_mode)
        lib, ta = references(y, scale, norm, pad_mode)
        assert np.abs(o - lib).max() < 1e-3, (name, np.abs(o - lib).max())
        assert np.abs(o - ta).max() < 1e-3, (name, np.abs(o - ta).max())

def test_logmel_agrees_on_real_music():
    files = sorted((FIXTURES/'real_music').glob('*.ogg'))
    assert len(files) == 4, f'{FIXTURES}/real_music should hold the four recordings fixtures/README.md lists'
    from mgr_course.data import load_audio
    for f in files:
        y = load_audio(f, SR, offset=5 * SR, frames=CFG.crop_samples).astype(np.float64)
        for scale, norm in [('htk', None), ('slaney', 'slaney')]:
            o = ours(y, scale=scale, norm=norm)
            lib, ta = references(y, scale, norm, 'reflect')
            assert np.abs(o - lib).max() < 1e-3 and np.abs(o - ta).max() < 1e-3, (f.name, scale)
        # float32, the training precision, against librosa's float32 result
        o32 = LogMelSpectrogram(scale='slaney', drop_last=False)(torch.from_numpy(y).float()[None, None])[0, 0].numpy()
        l32 = librosa.power_to_db(librosa.feature.melspectrogram(y=y.astype(np.float32), sr=SR, n_fft=CFG.n_fft, hop_length=CFG.hop_length,
                                                                 n_mels=CFG.n_mels, pad_mode='reflect'), top_db=CFG.top_db)
        assert np.abs(o32 - l32).max() < 1e-3

@pytest.mark.parametrize('scale', ['htk', 'slaney'])
def test_mfcc_agrees(scale):
    y = generated_clips()['chirp'] + generated_clips()['noise']
    o = MFCC(scale=scale, drop_last=False)(torch.from_numpy(y)[None, None])[0, 0].numpy()
    lib_db, _ = references(y, scale, 'slaney', 'reflect')
    lib = librosa.feature.mfcc(S=lib_db, n_mfcc=CFG.n_mfcc, dct_type=2, norm='ortho')
    default = torch.get_default_dtype(); torch.set_default_dtype(torch.float64)
    try: tm = torchaudio.transforms.MFCC(SR, n_mfcc=CFG.n_mfcc, norm='ortho', log_mels=False, melkwargs=dict(
            n_fft=CFG.n_fft, hop_length=CFG.hop_length, n_mels=CFG.n_mels, mel_scale=scale, norm='slaney', pad_mode='reflect'))
    finally: torch.set_default_dtype(default)
    ta = tm(torch.from_numpy(y)).numpy()
    assert np.abs(o - lib).max() < 1e-3 and np.abs(o - ta).max() < 1e-3

def test_dct_orthonormal():
    D = dct_matrix(CFG.n_mels, CFG.n_mels)
    assert torch.allclose(D @ D.T, torch.eye(CFG.n_mels, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(D.T @ D, torch.eye(CFG.n_mels, dtype=torch.float64), atol=1e-12)
    import scipy.fft
    L = np.random.default_rng(1).standard_normal((CFG.n_mels, 5))
    assert np.allclose(dct_matrix().numpy() @ L, scipy.fft.dct(L, type=2, norm='ortho', axis=0)[:CFG.n_mfcc], atol=1e-10)
    with pytest.raises(ValueError, match='n_mfcc'): dct_matrix(200, 128)

def test_power_to_db_top_db_per_item():
    p = torch.stack([torch.full((4, 8), 1.0), torch.full((4, 8), 1e-6)])[:, None]
    p[0, 0, 0, 0], p[1, 0, 0, 0] = 1e-20, 1e-20
    db = power_to_db(p, top_db=80.)
    assert float(db[0].min()) == pytest.approx(-80.)     # floored 80 dB below its own peak (0 dB)
    assert float(db[1].min()) == pytest.approx(-100.)    # peak -60 dB: the amin floor (-100 dB) comes first, not item 0's peak
    with pytest.raises(ValueError, match='top_db'): power_to_db(p, top_db=-1)

def test_raw_audio_antialiasing_and_torchaudio():
    t = torch.arange(CFG.crop_samples) / SR
    amp = lambda y: float(y[..., 1000:-1000].pow(2).mean().sqrt() * math.sqrt(2))
    raw = RawAudio()
    assert amp(raw(torch.sin(2 * math.pi * 1000 * t)[None, None])) == pytest.approx(1, abs=1e-3)
    assert amp(raw(torch.sin(2 * math.pi * 13000 * t)[None, None])) < 0.02       # would alias to 9.05 kHz at full strength
    x = torch.randn(2, 1, 8192)
    assert torch.allclose(RawAudio(width=6, rolloff=0.99)(x), torchaudio.functional.resample(x, SR, CFG.raw_sample_rate), atol=1e-4)
    k = sinc_lowpass_kernel()
    assert abs(float(k.sum()) - 1) < 1e-3            # unit gain at DC
    with pytest.raises(ValueError, match='whole factor'): RawAudio(CFG.replace(raw_sample_rate=16_000))

@pytest.mark.parametrize('module', [LogMelSpectrogram, MFCC, RawAudio])
def test_bad_input(module):
    m = module()
    with pytest.raises(ValueError, match=rf'^{module.__name__} expects .*\[batch, 1, time\]'): m(torch.zeros(CFG.crop_samples))  # names what the user called
    with pytest.raises(ValueError, match=r'\[batch, 1, time\]'): m(torch.zeros(2, CFG.crop_samples))
    with pytest.raises(ValueError, match=r'\[batch, 1, time\]'): m(torch.zeros(2, 2, 4096))
    with pytest.raises(ValueError, match='NaN or infinite'): m(torch.tensor([[[0.1] * 4095 + [float('nan')]]]))
    with pytest.raises(ValueError, match='NaN or infinite'): m(torch.tensor([[[0.1] * 4095 + [float('inf')]]]))
    with pytest.raises(TypeError, match='floating-point'): m(torch.zeros(1, 1, 4096, dtype=torch.int16))
    with pytest.raises(TypeError, match='torch.Tensor'): m(np.zeros((1, 1, 4096), np.float32))
    with pytest.raises(ValueError, match=rf'^{module.__name__} was built for 44100 Hz'): m(torch.zeros(1, 1, 4096), sample_rate=22_050)
    m(torch.zeros(1, 1, 4096), sample_rate=SR)

def test_too_short_for_fft():
    with pytest.raises(ValueError, match='at least 513 samples'): LogMelSpectrogram()(torch.zeros(1, 1, 100))

def test_bad_settings():
    with pytest.raises(ValueError, match='mel scale'): LogMelSpectrogram(scale='bark')
    with pytest.raises(ValueError, match='norm'): mel_filterbank(norm='area')

def test_no_weights_and_follows_dtype_and_device():
    for m in [LogMelSpectrogram(), MFCC(), RawAudio()]:
        assert len(list(m.parameters())) == 0 and m.state_dict() == {}
        x = torch.randn(1, 1, 8192, dtype=torch.float64)
        assert m(x).dtype == torch.float64
        assert torch.allclose(m.double()(x), m.float()(x.float()).double(), atol=1e-2)
    if torch.cuda.is_available():
        x = torch.randn(2, 1, CFG.crop_samples)
        m = LogMelSpectrogram()
        assert torch.allclose(m.cuda()(x.cuda()).cpu(), m.cpu()(x), atol=1e-2)
