"Augmentation: determinism under a seed, length and dtype, the configured probabilities, bad input."
import random
import numpy as np
import pytest
import torch
from mgr_course.config import CFG
from mgr_course.audio import Augment, seeded_globals

@pytest.fixture(scope='module')
def crop():
    t = np.arange(CFG.crop_samples // 4) / CFG.sample_rate
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 660 * t)).astype(np.float32)

def test_deterministic_under_a_seed(crop):
    aug = Augment()
    for s in range(4): assert np.array_equal(aug(crop, seed=s), Augment()(crop, seed=s))
    outs = [aug(crop, seed=s) for s in range(6)]
    assert len({o.tobytes() for o in outs}) > 1
    a, b = Augment(seed=3), Augment(seed=3)
    assert all(np.array_equal(a(crop), b(crop)) for _ in range(3))

def test_seeded_call_restores_global_generators(crop):
    np.random.seed(1); random.seed(1); expected = (np.random.random(), random.random())
    np.random.seed(1); random.seed(1)
    Augment()(crop, seed=99)
    assert (np.random.random(), random.random()) == expected
    with seeded_globals(5): a = np.random.random()
    with seeded_globals(5): assert np.random.random() == a

def test_length_dtype_and_probabilities(crop):
    never = Augment(CFG.replace(p_noise=0., p_time_stretch=0., p_pitch_shift=0.))
    assert np.array_equal(never(crop, seed=0), crop)
    for key in ['p_noise', 'p_time_stretch', 'p_pitch_shift']:
        ps = dict(p_noise=0., p_time_stretch=0., p_pitch_shift=0.); ps[key] = 1.
        a = Augment(CFG.replace(**ps))
        out = a(crop, seed=0)
        assert out.shape == crop.shape and out.dtype == np.float32 and not np.array_equal(out, crop) and len(a.applied()) == 1
    aug = Augment()
    counts = np.zeros(3)
    for s in range(40):
        aug(crop[:8192], seed=s); counts += [n in aug.applied() for n in ['AddGaussianNoise', 'TimeStretch', 'PitchShift']]
    assert ((counts > 8) & (counts < 32)).all(), counts        # each about half the time (p = 0.5)
    assert np.array_equal(aug(crop.astype(np.float64), seed=1), aug(crop, seed=1))

def test_ranges_come_from_config():
    aug = Augment()
    noise, stretch, pitch = aug.transforms.transforms
    assert (noise.min_amplitude, noise.max_amplitude, noise.p) == (*CFG.noise_amplitude, CFG.p_noise)
    assert (stretch.min_rate, stretch.max_rate, stretch.p, stretch.leave_length_unchanged) == (*CFG.stretch_rate, CFG.p_time_stretch, True)
    assert (pitch.min_semitones, pitch.max_semitones, pitch.p) == (*CFG.pitch_semitones, CFG.p_pitch_shift)

def test_bad_input(crop):
    aug = Augment()
    with pytest.raises(ValueError, match='1-D'): aug(crop[None])
    with pytest.raises(ValueError, match='44100 Hz'): aug(crop, sample_rate=22_050)
    with pytest.raises(ValueError, match='NaN or infinite'): aug(np.r_[crop, np.inf].astype(np.float32))
    with pytest.raises(TypeError, match='floating-point'): aug((crop * 1000).astype(np.int16))
    with pytest.raises(ValueError, match='at least'): aug(crop[:10])

def test_augmenting_in_threads_draws_what_one_thread_draws(crop):
    """The bank's views are built in the crop threads when a loader reads a shard that is missing (`mgr train` from a cold
    cache): seeded_globals seeds the process's global generators, so two threads augmenting at once must not mix their
    draws. Caught: a cold-cache run trained on other views than a warm one."""
    from concurrent.futures import ThreadPoolExecutor
    aug, seeds = Augment(noise=False), list(range(16))
    serial = [aug(crop, seed=s) for s in seeds]
    with ThreadPoolExecutor(4) as pool: threaded = list(pool.map(lambda s: aug(crop, seed=s), seeds))
    assert all(np.array_equal(a, b) for a, b in zip(serial, threaded))

def test_split_augmentation_expensive_once_cheap_per_step(crop):
    from mgr_course.audio import add_noise
    assert [type(t).__name__ for t in Augment(noise=False).transforms.transforms] == ['TimeStretch', 'PitchShift']
    none = CFG.replace(p_time_stretch=0., p_pitch_shift=0.)
    assert np.array_equal(Augment(none, noise=False)(crop, seed=3), crop)   # without noise, nothing is left to apply
    always = CFG.replace(p_noise=1.)
    a, b = add_noise(crop.copy(), np.random.default_rng([1, 2, 3]), always), add_noise(crop.copy(), np.random.default_rng([1, 2, 3]), always)
    assert np.array_equal(a, b) and a.dtype == np.float32 and a.shape == crop.shape
    assert not np.array_equal(a, add_noise(crop.copy(), np.random.default_rng([1, 2, 4]), always))
    stds = [float((add_noise(crop.copy(), np.random.default_rng(s), always) - crop).std()) for s in range(20)]
    assert min(stds) >= CFG.noise_amplitude[0] * 0.98 and max(stds) <= CFG.noise_amplitude[1] * 1.02 and max(stds) - min(stds) > 0.003
    x = crop.copy()
    assert add_noise(x, np.random.default_rng(0), CFG.replace(p_noise=0.)) is x and np.array_equal(x, crop)
    applied = [not np.array_equal(add_noise(crop.copy(), np.random.default_rng(s)), crop) for s in range(60)]
    assert 15 < sum(applied) < 45                                            # p_noise = 0.5

def test_noise_is_a_window_of_the_table_whatever_thread_or_length(crop):
    """The noise is exactly `±amplitude * noise_table(seed)[start:start + len]` at the place and sign the draws name (what
    trained runs used), also in threads that reuse a scratch buffer, for a crop of another length (catches a stale buffer
    reused across lengths or threads), and for an array longer than an eighth of the table (a longer table)."""
    from concurrent.futures import ThreadPoolExecutor
    from mgr_course.audio import add_noise, noise_table, NOISE_TABLE
    always = CFG.replace(p_noise=1.)
    def expected(x, seed):
        r = np.random.default_rng(seed); r.random(); amp, sign, where = r.uniform(*always.noise_amplitude), r.integers(2), r.random()
        table = noise_table(always.seed, max(NOISE_TABLE, 8 * len(x)))
        start = int(where * (len(table) - len(x) + 1))
        return x + table[start:start + len(x)] * np.float32(amp if sign else -amp)
    cases = [(crop[:n].copy(), seed) for seed in range(6) for n in (len(crop), 1000, 17)]
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda c: add_noise(c[0].copy(), np.random.default_rng(c[1]), always), cases))
    for (x, seed), g in zip(cases, got): assert np.array_equal(g, expected(x, seed))
    table = noise_table(always.seed)
    assert len(table) == NOISE_TABLE and table.dtype == np.float32 and abs(float(table.mean())) < 0.002 and abs(float(table.std()) - 1) < 0.002
    assert np.array_equal(table, torch.randn(NOISE_TABLE, generator=torch.Generator().manual_seed(always.seed)).numpy())
    long = np.zeros(NOISE_TABLE // 4, np.float32)
    assert np.array_equal(add_noise(long.copy(), np.random.default_rng(0), always), expected(long, 0))
    assert len(noise_table(always.seed, NOISE_TABLE * 2)) == NOISE_TABLE * 2
