"""Features (chapter 03) against librosa, scipy and torchaudio where the other tests do not look: other settings than the
paper's, precision, the decibel reference, the resampler's defaults, error messages whole. Written against the mutants
`make mutants` left alive in `mgr_course/features.py` (README, "Mutation testing"); each test names the mutations it catches."""
import math
import numpy as np
import pytest
import torch
import librosa
import scipy.fft
from mgr_course.config import CFG, import_torchaudio
from mgr_course.features import (dct_matrix, power_to_db, mel_band_edges, mel_filterbank, sinc_lowpass_kernel, LogMelSpectrogram, MFCC, RawAudio, RawAndMFCC,
                                 FRONTENDS)

torchaudio = import_torchaudio()
pytestmark = pytest.mark.filterwarnings('ignore:.*(Empty filters|all zero values).*')
SR = CFG.sample_rate


def noise(n=8192, batch=1, seed=0, dtype=torch.float32):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((batch, 1, n)) * 0.1).to(dtype)


def test_dct_sizes_at_the_edges():
    "One coefficient (the scaled mean) is allowed, none is not: catches `0 <` turned into `1 <` or `0 <=`."
    np.testing.assert_allclose(dct_matrix(1, 4).numpy(), [[0.5] * 4])                       # sqrt(1/4)
    np.testing.assert_allclose(dct_matrix(3, 5).numpy(), scipy.fft.dct(np.eye(5), type=2, norm='ortho', axis=0)[:3], atol=1e-12)
    with pytest.raises(ValueError, match=r'^need 0 < n_mfcc <= n_mels, got n_mfcc=0, n_mels=4$'): dct_matrix(0, 4)
    with pytest.raises(ValueError, match=r'^need 0 < n_mfcc <= n_mels, got n_mfcc=5, n_mels=4$'): dct_matrix(5, 4)


def test_power_to_db_reference_and_small_top_db():
    "librosa's power_to_db with another reference than 1 (catches the reference's sign or factor changed), and a floor of 0 or"
    " a fraction of a decibel accepted (catches `< 0` turned into `<= 0` or `< 1`)."
    S = np.abs(np.random.default_rng(0).standard_normal((2, 1, 16, 8))) ** 2 + 1e-12
    for ref in [10.0, 0.01]:
        got = power_to_db(torch.from_numpy(S), top_db=None, ref=ref).numpy()
        np.testing.assert_allclose(got, librosa.power_to_db(S, ref=ref, amin=1e-10, top_db=None), atol=1e-9)
    for top_db in [0.0, 0.5]:
        got = power_to_db(torch.from_numpy(S), top_db=top_db).numpy()
        peak = got.reshape(2, -1).max(1)
        assert (got.reshape(2, -1).min(1) >= peak - top_db - 1e-12).all()
        np.testing.assert_allclose(got[0], librosa.power_to_db(S[0], top_db=top_db), atol=1e-9)   # item by item, as librosa does
    with pytest.raises(ValueError, match=r'^top_db must be >= 0 \(or None for no floor\), got -0.5$'): power_to_db(torch.from_numpy(S), top_db=-0.5)


def test_resampler_defaults_are_torchaudios_sinc_hann():
    "RawAudio's defaults (16 zero crossings, roll-off 0.945) against torchaudio's `resample` with the same settings, and the"
    " kernel's own defaults are RawAudio's: catches a changed default width, roll-off or factor."
    x = noise(8193, 2)
    want = torchaudio.functional.resample(x, SR, CFG.raw_sample_rate, lowpass_filter_width=16, rolloff=0.945)
    torch.testing.assert_close(RawAudio()(x), want, atol=1e-5, rtol=0)
    k = sinc_lowpass_kernel()
    assert k.dtype == torch.float64 and k.shape == (69,)                      # float64 as every filter here; 2 x ceil(16 / 0.4725) + 1 taps
    torch.testing.assert_close(k.float(), RawAudio().kernel[0, 0], atol=0, rtol=0)


def test_raw_audio_takes_a_single_sample():
    "One sample in, one out (the first sample times the kernel's centre tap): catches the minimum length raised to 2."
    y = RawAudio()(torch.ones(1, 1, 1))
    assert y.shape == (1, 1, 1) and float(y) == pytest.approx(0.945 / 2, abs=1e-6)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_mfcc_with_other_settings_matches_scipy(dtype):
    "64 bands, 13 coefficients, from a Config and from keywords: the orthonormal DCT-II (scipy) of our own log-mel. Catches the"
    " DCT built for the config's 128 bands instead of the log-mel's, the config not reaching the log-mel, and float64 input"
    " run through the float32 DCT."
    x = noise(dtype=dtype)
    for mfcc, logmel in [(MFCC(CFG.replace(n_mels=64, n_mfcc=13)), LogMelSpectrogram(CFG.replace(n_mels=64))),
                         (MFCC(n_mfcc=13, n_mels=64), LogMelSpectrogram(n_mels=64))]:
        got = mfcc(x)
        want = scipy.fft.dct(logmel(x).double().numpy(), type=2, norm='ortho', axis=2)[:, :, :13]
        assert got.shape == (1, 1, 13, 16) and got.dtype == dtype
        np.testing.assert_allclose(got.double().numpy(), want, atol=1e-9 if dtype == torch.float64 else 1e-3, rtol=0)


def test_module_in_float64_still_takes_float32_input():
    "After `.double()` (buffers in float64), float32 input gives the float32 answer: catches the window, filter bank or DCT not"
    " cast to the input's dtype."
    x = noise()
    for cls in [LogMelSpectrogram, MFCC]:
        got = cls().double()(x)
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, cls()(x))


def test_n_frames_is_what_forward_gives():
    "n_frames against the output's frame count, for lengths that are and are not whole hops, with and without the last frame."
    x = noise(1000)
    for drop_last in [True, False]:
        m = LogMelSpectrogram(drop_last=drop_last)
        for n in [1000, 1024, 4096]:
            assert m.n_frames(n) == m(x[..., :n] if n <= 1000 else noise(n)).shape[-1] == n // 512 + (not drop_last)
            assert type(m.n_frames(n)) is int
    assert LogMelSpectrogram().n_frames(CFG.crop_samples) == CFG.n_frames == 512


def test_long_batches_are_cut_into_chunks_on_the_cpu():
    "On a CPU, 10 crops go through the STFT 4, 4 and 2 at a time (a whole batch would fall out of the caches), with the same"
    " result as one by one: catches the chunking dropped, inverted or done for short batches too."
    m, seen = LogMelSpectrogram(), []
    inner = m._mel_power
    m._mel_power = lambda c: seen.append(len(c)) or inner(c)
    x = noise(4096, 10)
    y = m(x)
    assert seen == [4, 4, 2]
    torch.testing.assert_close(y, torch.cat([LogMelSpectrogram()(c[None]) for c in x]))
    seen.clear(); m(x[:4])
    assert seen == [4]


def test_raw_and_mfcc_is_both_views_of_the_config():
    "The late-fusion front end: RawAudio's and MFCC's outputs for the same waveform, both built from the Config given (catches a"
    " view fed something else or built from the default config)."
    cfg = CFG.replace(n_mfcc=13, raw_sample_rate=14_700)       # 44,100 / 14,700 = 3
    x = noise(6000)
    raw, mfcc = RawAndMFCC(cfg)(x)
    torch.testing.assert_close(raw, RawAudio(cfg)(x)); torch.testing.assert_close(mfcc, MFCC(cfg)(x))
    assert raw.shape == (1, 1, 2000) and mfcc.shape == (1, 1, 13, 11)
    raw, mfcc = RawAndMFCC()(x)
    assert raw.shape == (1, 1, 3000) and mfcc.shape == (1, 1, CFG.n_mfcc, 11)
    assert FRONTENDS['raw+mfcc'] is RawAndMFCC


@pytest.mark.parametrize('module', [LogMelSpectrogram, MFCC, RawAudio])
def test_error_messages_name_the_module(module):
    "The messages whole, with the name of the module the user called (catches the name lost, `NoneType` in its place; MFCC's checks run in its log-mel, under MFCC's name)."
    name, m = module.__name__, module()
    with pytest.raises(ValueError, match=rf'^{name} expects a batch of mono waveforms \[batch, 1, time\], got shape \(4096,\): '
                                         r'a single clip \[time\] needs x\[None, None\], a batch \[batch, time\] needs x\[:, None\]$'):
        m(torch.zeros(4096))
    with pytest.raises(TypeError, match=rf'^{name} expects a torch.Tensor of waveforms \[batch, 1, time\], got ndarray$'):
        m(np.zeros((1, 1, 4096), np.float32))
    with pytest.raises(ValueError, match=rf'^{name} was built for 44100 Hz audio but got 22050 Hz: resample it first '):
        m(torch.zeros(1, 1, 4096), sample_rate=22_050)
    with pytest.raises(TypeError, match=rf'^{name} expects floating-point samples, got torch.int16$'):
        m(torch.zeros(1, 1, 4096, dtype=torch.int16))
    if module is not RawAudio:
        with pytest.raises(ValueError, match=rf'^{name} needs at least 513 samples per waveform, got 100$'): m(torch.zeros(1, 1, 100))
        assert m(torch.zeros(1, 1, 513)).shape[-1] == 1                       # n_fft // 2 + 1 samples: enough for one frame


def test_logmel_settings_reach_the_filter_bank_and_the_floor():
    "f_min, top_db and the mel scale's lower edge as given, not the config's (catches each ignored): the band edges against"
    " librosa's mel_frequencies above 300 Hz, the filter bank built from them, no floor with top_db=None, a 20 dB floor."
    e = mel_band_edges(40, 300.0, 8000.0, 'slaney').numpy()
    np.testing.assert_allclose(e, librosa.mel_frequencies(42, fmin=300.0, fmax=8000.0), rtol=1e-9)
    np.testing.assert_allclose(mel_band_edges(40, 300.0, 8000.0, 'htk').numpy(), librosa.mel_frequencies(42, fmin=300.0, fmax=8000.0, htk=True), rtol=1e-9)
    m = LogMelSpectrogram(f_min=300.0, scale='slaney')
    torch.testing.assert_close(m.filterbank, mel_filterbank(f_min=300.0, scale='slaney').float())
    x = noise(4096); x[..., :2048] = 0                                       # silent first half: a range far beyond 80 dB
    power = LogMelSpectrogram().mel_power(x)
    for top_db in [None, 20.0]:
        got = LogMelSpectrogram(top_db=top_db)(x)
        torch.testing.assert_close(got, power_to_db(power, top_db))
        span = float(got.max() - got.min())
        assert span == pytest.approx(20.0) if top_db else span > CFG.top_db          # wider than the config's floor would allow
