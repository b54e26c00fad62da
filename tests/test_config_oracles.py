"""The config's hardware rules (chapter 00) on hardware this machine lacks, stood in for: CUDA GPUs, Apple MPS, and a
torchaudio whose compiled extension cannot load. Written against the mutants `make mutants` left alive in
`mgr_course/config.py` (README, "Mutation testing"); each test names the mutations it catches."""
import sys
import pytest
import torch
import mgr_course.config as config
from mgr_course.config import available_devices, default_device, import_torchaudio


def machine(monkeypatch, cuda: int = 0, mps: bool | None = False):
    "This process made to look like a machine with `cuda` GPUs and Apple MPS (`mps`; None: a PyTorch built without MPS support)."
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda > 0)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: cuda)
    if mps is None: monkeypatch.delattr(torch.backends, 'mps')
    else: monkeypatch.setattr(torch.backends.mps, 'is_available', lambda: mps)
    monkeypatch.delenv('MGR_DEVICE', raising=False)


@pytest.mark.parametrize('cuda, mps, devices, default', [
    (0, False, ['cpu'], 'cpu'),
    (0, None, ['cpu'], 'cpu'),                                             # no torch.backends.mps at all
    (2, False, ['cpu', 'cuda', 'cuda:0', 'cuda:1'], 'cuda'),
    (0, True, ['cpu', 'mps'], 'mps'),
    (1, True, ['cpu', 'cuda', 'cuda:0', 'mps'], 'cuda'),                   # CUDA comes before MPS
])
def test_devices_listed_and_chosen(monkeypatch, cuda, mps, devices, default):
    "Catches a GPU or MPS branch skipped, inverted, misnamed ('cuda:1' for 'cuda:0', 'MPS') or its device count changed."
    machine(monkeypatch, cuda, mps)
    assert available_devices() == devices
    assert default_device() == torch.device(default)


def test_mgr_device_picks_among_the_stood_in_devices(monkeypatch):
    "$MGR_DEVICE wins over the automatic choice, and a GPU that is listed is accepted by its full name."
    machine(monkeypatch, 2, True)
    for name in ['cpu', 'cuda:1', 'mps']:
        monkeypatch.setenv('MGR_DEVICE', name)
        assert default_device() == torch.device(name)
    monkeypatch.setenv('MGR_DEVICE', 'cuda:2')
    with pytest.raises(ValueError, match=r"^MGR_DEVICE is 'cuda:2', but this PyTorch \(.*\) cannot use that device on this machine: "
                                         r"set MGR_DEVICE to one of cpu, cuda, cuda:0, cuda:1, mps, or unset it to let the course choose$"):
        default_device()
    monkeypatch.setenv('MGR_DEVICE', 'gpu0')
    with pytest.raises(ValueError, match=r"^MGR_DEVICE is 'gpu0', which is not a device name: set MGR_DEVICE to one of cpu, cuda, "):
        default_device()


def test_stand_in_for_torchaudios_extension():
    "What torchaudio's Python parts ask of its extension module: nothing available, loading fails quietly, aligning raises."
    m = config._no_extension_module()
    assert m.__name__ == 'torchaudio._extension'
    assert m._IS_TORCHAUDIO_EXT_AVAILABLE is False and m._IS_ALIGN_AVAILABLE is False
    assert m._load_lib('libtorchaudio') is False and m._check_cuda_version() is None
    wrapped = m.fail_if_no_align(lambda: 'aligned')
    with pytest.raises(RuntimeError, match=r"^torchaudio's compiled extension was not loaded \(CPU-only torch\); only its pure-Python parts work$"):
        wrapped(1, key=2)


FAKE_TORCHAUDIO = '''import sys
ext = sys.modules.get('torchaudio._extension')
if {fail} and (ext is None or ext._IS_TORCHAUDIO_EXT_AVAILABLE is not False):
    raise OSError('libtorchaudio.so: undefined symbol: a CUDA-built extension on a CPU-only torch')
EXT = ext
'''

@pytest.fixture
def fake_torchaudio(tmp_path, monkeypatch):
    "A `torchaudio` package of our own on sys.path instead of the real one (restored afterwards); returns a writer for its code."
    saved = {k: v for k, v in sys.modules.items() if k == 'torchaudio' or k.startswith('torchaudio.')}
    for k in saved: del sys.modules[k]
    (tmp_path/'torchaudio').mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    def write(fail: bool): (tmp_path/'torchaudio'/'__init__.py').write_text(FAKE_TORCHAUDIO.format(fail=fail))
    yield write
    for k in [k for k in sys.modules if k == 'torchaudio' or k.startswith('torchaudio.')]: del sys.modules[k]
    sys.modules.update(saved)


def test_import_torchaudio_without_its_extension_on_a_cpu_torch(fake_torchaudio, monkeypatch):
    "A torchaudio whose extension fails to load (OSError) on a CPU-only torch is imported again with the stand-in extension,"
    " after its half-imported submodules are dropped (not other packages whose names start alike). Catches the fallback skipped,"
    " the stand-in not installed or installed under another name, and the wrong modules dropped."
    fake_torchaudio(fail=True)
    monkeypatch.setattr(torch.version, 'cuda', None)
    sys.modules['torchaudio.half_imported'] = 'stale'; sys.modules['torchaudiox'] = 'another package'
    try:
        ta = import_torchaudio()
        assert ta.EXT is sys.modules['torchaudio._extension'] and ta.EXT._IS_TORCHAUDIO_EXT_AVAILABLE is False
        assert 'torchaudio.half_imported' not in sys.modules and sys.modules['torchaudiox'] == 'another package'
    finally: sys.modules.pop('torchaudiox', None)


def test_import_torchaudio_on_a_cuda_torch_shows_the_error(fake_torchaudio, monkeypatch):
    "On a CUDA torch the same failure is a broken installation: the OSError reaches the user (catches the re-raise dropped)."
    fake_torchaudio(fail=True)
    monkeypatch.setattr(torch.version, 'cuda', '12.4')
    with pytest.raises(OSError, match='undefined symbol'): import_torchaudio()
    assert 'torchaudio._extension' not in sys.modules


def test_import_torchaudio_that_loads_is_left_alone(fake_torchaudio, monkeypatch):
    "A torchaudio that imports is returned as it is, with no stand-in installed (catches the fallback taken every time)."
    fake_torchaudio(fail=False)
    monkeypatch.setattr(torch.version, 'cuda', None)
    ta = import_torchaudio()
    assert ta.EXT is None and 'torchaudio._extension' not in sys.modules
