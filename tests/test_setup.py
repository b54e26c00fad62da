"The environment the README's commands build: the library imports, torchaudio's transforms run on a CPU-only torch."
import subprocess, sys
import torch
from mgr_course.config import CFG, import_torchaudio

def test_library_imports_in_a_fresh_process():
    r = subprocess.run([sys.executable, '-c', 'import mgr_course, mgr_course.config; print(mgr_course.__version__)'],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

def test_torchaudio_melspectrogram_runs():
    ta = import_torchaudio()
    mel = ta.transforms.MelSpectrogram(sample_rate=CFG.sample_rate, n_fft=CFG.n_fft, hop_length=CFG.hop_length, n_mels=CFG.n_mels)
    x = torch.sin(2*torch.pi*440*torch.arange(CFG.crop_samples)/CFG.sample_rate)[None]
    m = mel(x)
    assert m.shape == (1, CFG.n_mels, CFG.n_frames + 1)
    # a 440 Hz tone puts its energy in a low band, not at the top
    assert m[0].mean(-1).argmax() < CFG.n_mels // 3

# A torchaudio whose compiled extension cannot load (as a CUDA torchaudio beside a CPU-only torch): the import of
# torchaudio._extension raises OSError, whatever torchaudio is installed here.
BROKEN_EXTENSION = """
import sys, torch
class Broken:
    def find_spec(self, name, path=None, target=None):
        if name == 'torchaudio._extension': raise OSError('libtorchaudio.so: cannot open shared object file (simulated)')
sys.meta_path.insert(0, Broken())
torch.version.cuda = {cuda!r}
from mgr_course.config import import_torchaudio, CFG
try: ta = import_torchaudio()
except OSError: print('raised'); sys.exit(0)
m = ta.transforms.MelSpectrogram(sample_rate=CFG.sample_rate, n_mels=8)(torch.randn(1, 4096))
print('imported', tuple(m.shape))
"""

def _run(code):
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    return r.returncode, r.stdout.strip(), r.stderr

def test_torchaudio_workaround_on_a_broken_extension():
    "The workaround works where the extension fails on a CPU-only torch (catches removing it) and is limited to a CPU-only"
    " torch: on a CUDA torch the OSError surfaces (catches a workaround that hides real installation problems)."
    rc, out, err = _run(BROKEN_EXTENSION.format(cuda=None))
    assert rc == 0 and out == 'imported (1, 8, 21)', err
    rc, out, err = _run(BROKEN_EXTENSION.format(cuda='12.8'))
    assert rc == 0 and out == 'raised', err

def test_torchaudio_workaround_is_limited_to_cpu_torch():
    "Where torchaudio's extension fails to load on a CUDA torch, the OSError is a real problem: it must surface."
    plain_ok = _run('import torchaudio')[0] == 0
    code = ("import torch; torch.version.cuda = '12.8'\n"
            "from mgr_course.config import import_torchaudio\n"
            "try: import_torchaudio(); print('imported')\n"
            "except OSError: print('raised')")
    rc, out, err = _run(code)
    assert rc == 0, err
    assert out == ('imported' if plain_ok else 'raised')
