"The config (chapter 00) against oracles of its own: the CPU's flags, the environment, the clone's folders."
import os
from pathlib import Path
import pytest
import torch
import mgr_course.config as config
from mgr_course.config import (CFG, GENRES, Config, default_config, in_test, repo_root, data_dir, short_path, fixtures_dir,
                               cpu_has_native_bf16, cpu_model, autocast_dtype, env_device, default_device, available_devices)

ROOT = Path(__file__).resolve().parents[1]


def proc_flags() -> set:
    "The CPU's flags as the kernel lists them, read here without the library's code (the oracle for bf16 detection)."
    p = Path('/proc/cpuinfo')
    text = p.read_text() if p.exists() else ''
    return {w for line in text.splitlines() if line.split(':')[0].strip() == 'flags' for w in line.split(':')[1].split()}


def test_bf16_detection_agrees_with_the_cpu_flags(monkeypatch):
    "Catches a cpu_has_native_bf16 that always answers False (silent float32 on a bf16 CPU) or always True."
    monkeypatch.delenv('MGR_PRECISION', raising=False)
    native = bool({'avx512_bf16', 'amx_bf16'} & proc_flags())
    assert cpu_has_native_bf16() == native
    assert autocast_dtype('cpu') == (torch.bfloat16 if native else None)


@pytest.mark.parametrize('text, native', [
    ('processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 avx512_vnni\n', True),
    ('flags\t\t: fpu amx_tile amx_bf16 amx_int8\n', True),
    ('flags\t\t: fpu sse avx2 avx512f avx512_fp16\n', False),                     # another 16-bit format: not bf16
    ('model name\t: avx512_bf16 in a name\nflags\t\t: fpu sse\n', False),         # only the flags line counts
    ('flags\t\t: fpu avx512_bf16x\n', False),                                     # a whole flag, not a prefix
    ('', False),                                                                  # no /proc/cpuinfo (macOS, Windows)
])
def test_bf16_detection_on_known_cpus(monkeypatch, text, native):
    "Both answers on any machine, from the flags text: catches a detector that ignores the flags or reads the wrong line."
    monkeypatch.delenv('MGR_PRECISION', raising=False)
    monkeypatch.setattr(config, '_cpuinfo', lambda: text)
    assert cpu_has_native_bf16() is native
    assert autocast_dtype('cpu') == (torch.bfloat16 if native else None)
    assert autocast_dtype(torch.device('cpu')) == (torch.bfloat16 if native else None)


def test_cpu_model_reads_the_model_name(monkeypatch):
    monkeypatch.setattr(config, '_cpuinfo', lambda: 'processor\t: 0\nmodel name\t:  Some CPU @ 2.0GHz \nflags\t: fpu\n')
    assert cpu_model() == 'Some CPU @ 2.0GHz'
    monkeypatch.setattr(config, '_cpuinfo', lambda: '')
    assert cpu_model() and cpu_model() != 'Some CPU @ 2.0GHz'


def test_cpuinfo_unreadable_is_empty(monkeypatch):
    monkeypatch.setattr(config.Path, 'read_text', lambda self, *a, **k: (_ for _ in ()).throw(PermissionError(13, 'denied')))
    assert config._cpuinfo() == '' and cpu_has_native_bf16() is False


def test_precision_override(monkeypatch):
    for p, dt in [('fp32', None), ('bf16', torch.bfloat16), ('fp16', torch.float16)]:
        monkeypatch.setenv('MGR_PRECISION', p)
        assert autocast_dtype('cpu') == dt and autocast_dtype('meta') == dt
    monkeypatch.setenv('MGR_PRECISION', 'fp8')
    with pytest.raises(ValueError, match=r"\$MGR_PRECISION is 'fp8'.*fp32, bf16, fp16"): autocast_dtype('cpu')
    monkeypatch.delenv('MGR_PRECISION')
    assert autocast_dtype('meta') is None                                           # neither CPU nor CUDA: plain float32


def test_the_papers_numbers():
    "The numbers the paper fixes (sections III, IV): a changed default is a changed experiment."
    c = Config()
    assert c.genres == GENRES and len(GENRES) == 8 and c.n_classes == 8
    assert (c.sample_rate, c.raw_sample_rate, c.crop_samples) == (44_100, 22_050, 2**18)
    assert (c.n_fft, c.hop_length, c.n_mels, c.n_mfcc, c.n_frames) == (1024, 512, 128, 20, 512)
    assert c.raw_samples == 131_072 and c.crop_seconds == pytest.approx(5.944, abs=1e-3)
    assert c.mel_shape == (1, 128, 512) and c.mfcc_shape == (1, 20, 512) and c.raw_shape == (1, 131_072)
    assert c.crop_samples // c.hop_length == c.n_frames
    assert dict(c.ensembles) == {'Ensemble1': ('Raw1DCNN', 'Mel2DCNN', 'MFCC2DCNN'), 'Ensemble2': ('LateFusionCRNN', 'Mel2DCNN')}
    assert (c.batch_size, c.lr, c.dropout, c.paper_epochs) == (32, 1e-3, 0.5, 20)


def test_repr_shows_only_changes_and_replace_copies():
    assert repr(Config()) == 'Config()'
    c = Config().replace(n_mels=64, dataset='fma')
    assert repr(c) == "Config(n_mels=64, dataset='fma')" and Config().n_mels == 128 and c.n_mfcc == 20


def test_default_config_follows_the_environment(monkeypatch):
    monkeypatch.setenv('IN_TEST', '1'); monkeypatch.setenv('MGR_DATASET', 'fma')
    small = default_config()
    assert in_test() and small.dataset == 'fma' and small.synthetic_per_genre == 6 and small.train_steps == 12 and small.batch_size == 8
    assert small.synthetic_seconds * small.sample_rate >= small.crop_samples           # a test clip still holds one crop
    monkeypatch.delenv('IN_TEST'); monkeypatch.delenv('MGR_DATASET')
    full = default_config()
    assert not in_test() and full == Config() and full.dataset == 'synthetic'
    monkeypatch.setenv('IN_TEST', '')
    assert not in_test()


def test_folders_of_a_clone(tmp_path, monkeypatch):
    assert repo_root(ROOT/'nbs') == ROOT and repo_root(ROOT/'mgr_course'/'config.py') == ROOT
    assert repo_root(tmp_path) is None
    (tmp_path/'mgr_course').mkdir(); (tmp_path/'pyproject.toml').touch()
    assert repo_root(tmp_path) is None                                             # a clone also has nbs/
    (tmp_path/'nbs').mkdir()
    assert repo_root(tmp_path/'nbs') == tmp_path
    monkeypatch.chdir(ROOT/'nbs'); monkeypatch.delenv('MGR_DATA', raising=False)
    assert repo_root() == ROOT and data_dir() == ROOT/'data'
    assert short_path(ROOT/'data'/'x.csv') == 'data/x.csv'
    monkeypatch.setenv('MGR_DATA', str(tmp_path/'d'))
    assert data_dir() == tmp_path/'d'
    monkeypatch.chdir(tmp_path.parent)
    assert short_path(tmp_path/'d'/'runs') == '<data>/runs' and short_path('/elsewhere/x') == '/elsewhere/x'
    monkeypatch.delenv('MGR_DATA')
    assert data_dir() == Path.home()/'.cache'/'mgr_course'                          # outside a clone


def test_fixtures_ship_with_the_clone(tmp_path, monkeypatch):
    "The chapters and the tests read the same fixtures/: the four recordings with their attributions and FMA's metadata."
    assert fixtures_dir() == ROOT/'fixtures'
    oggs = sorted((fixtures_dir()/'real_music').glob('*.ogg'))
    assert len(oggs) == 4 and all(o.with_suffix('.txt').stat().st_size > 0 for o in oggs)
    assert {p.name for p in (fixtures_dir()/'fma_metadata').iterdir()} >= {'genres.csv', 'tracks_head.csv'}
    monkeypatch.chdir(tmp_path)
    assert fixtures_dir() == ROOT/'fixtures'                                       # found from the package, not the working folder


def test_devices(monkeypatch):
    assert available_devices()[0] == 'cpu'
    monkeypatch.setenv('MGR_DEVICE', 'cpu')
    assert default_device() == torch.device('cpu')
    for bad, msg in [('gpu0', 'not a device name'), ('cuda:7', 'cannot use that device')]:
        if bad in available_devices(): continue
        with pytest.raises(ValueError, match=f'MGR_DEVICE is {bad!r}.*{msg}.*set MGR_DEVICE to one of cpu'): env_device(bad)
    monkeypatch.delenv('MGR_DEVICE')
    want = 'cuda' if torch.cuda.is_available() else 'mps' if 'mps' in available_devices() else 'cpu'
    assert default_device().type == want


def test_test_sizes_exactly(monkeypatch):
    "The IN_TEST sizes the chapters and tests rely on (catches one of them dropped or changed)."
    monkeypatch.setenv('IN_TEST', '1'); monkeypatch.delenv('MGR_DATASET', raising=False)
    c = default_config()
    assert (c.synthetic_per_genre, c.synthetic_seconds, c.train_steps, c.patience, c.batch_size, c.augment_views) == (6, 8.0, 12, 2, 8, 2)
    assert repr(c) == 'Config(batch_size=8, train_steps=12, patience=2, augment_views=2, synthetic_per_genre=6, synthetic_seconds=8.0)'


def test_cpu_model_with_a_colon_in_its_name(monkeypatch):
    monkeypatch.setattr(config, '_cpuinfo', lambda: 'model name\t: AMD EPYC 7B13: 64-Core Processor\nflags\t: fpu\n')
    assert cpu_model() == 'AMD EPYC 7B13: 64-Core Processor'


def test_fixtures_outside_a_clone(monkeypatch):
    monkeypatch.setattr(config, 'repo_root', lambda start=None: None)
    with pytest.raises(FileNotFoundError, match=r"^the course's fixtures/ folder \(real FMA metadata and recordings\) ships with a clone "
                                                 r"of the course, not with the installed package: run this from a clone$"):
        fixtures_dir()


def test_env_device_message_lists_the_devices(monkeypatch):
    monkeypatch.setattr(config, 'available_devices', lambda: ['cpu', 'cuda', 'cuda:0'])
    assert env_device('cuda:0') == torch.device('cuda:0') and env_device('cpu') == torch.device('cpu')
    with pytest.raises(ValueError, match=r"set MGR_DEVICE to one of cpu, cuda, cuda:0, or unset it"): env_device('cuda:1')


def test_cuda_precision_and_device_override_without_a_gpu(monkeypatch):
    "The CUDA rule, with the GPU's answer stood in for: bf16 where supported, else fp16 (catches the rule inverted or skipped);"
    " and $MGR_DEVICE reaches default_device (catches the variable's name changed)."
    monkeypatch.delenv('MGR_PRECISION', raising=False)
    for supported, want in [(True, torch.bfloat16), (False, torch.float16)]:
        monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: supported)
        assert autocast_dtype('cuda') == want and autocast_dtype('cuda:0') == want
    monkeypatch.setattr(config, 'available_devices', lambda: ['cpu'])
    monkeypatch.setenv('MGR_DEVICE', 'cuda:7')
    with pytest.raises(ValueError, match="MGR_DEVICE is 'cuda:7'"): default_device()
