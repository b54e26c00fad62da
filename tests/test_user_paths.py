"""The user's paths that need more than one `mgr` call: `mgr download` against a loopback HTTP server (success, interrupted
and resumed, wrong SHA-1), `make reproduce ARGS=...` passing its arguments, and tools/run_chapters.py re-executing a chapter."""
import hashlib, importlib.util, io, json, os, shutil, subprocess, sys, zipfile
from pathlib import Path
import numpy as np, pytest
from mgr_course.config import CFG
from test_download import Server          # the loopback server (127.0.0.1 only) with Range support and dropped connections

ROOT = Path(__file__).resolve().parents[1]
MGR = str(Path(sys.executable).parent/'mgr')
# The published SHA-1s are those of FMA's real archives, which a test cannot serve; this runs the same command line
# (mgr_course.cli.main: parsing, the command, the one-line errors) with the SHA-1s of the stand-in archives served here.
WITH_SHA1 = ("import sys, mgr_course.data as d; "
             "d.CFG = d.CFG.replace(fma_metadata_sha1=sys.argv.pop(1), fma_small_sha1=sys.argv.pop(1)); "
             "from mgr_course.cli import main; main(sys.argv[1:])")


def _zip(files: dict) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w') as z:
        for name, data in files.items(): z.writestr(name, data)
    return b.getvalue()


class DropsFirst(set):
    "The paths whose next `n` connections the server drops midway (the Server drops a path while `path in cut`)."
    def __init__(self, counts: dict): super().__init__(); self.counts = dict(counts)
    def __contains__(self, path): return self.counts.get(path, 0) > 0
    def discard(self, path): self.counts[path] -= 1


@pytest.fixture
def fma_server():
    s = Server()
    noise = np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes()   # incompressible: a long transfer
    s.files['/fma/fma_metadata.zip'] = _zip({'fma_metadata/tracks.csv': b'track_id\n', 'fma_metadata/genres.csv': b'genre_id\n',
                                             'fma_metadata/blob.bin': noise})
    s.files['/fma/fma_small.zip'] = _zip({'fma_small/000/000002.mp3': b'mp3', 'fma_small/checksums': b'c'})
    yield s
    s.close()


def run(cmd, env=None, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, 'IN_TEST': '1', **(env or {})}, **kw)


def test_mgr_download_wrong_sha1_is_refused(fma_server, tmp_path):
    "The real `mgr` against a server whose archive is not FMA's: one line naming the file, the SHA-1s and what to do."
    r = run([MGR, 'download', '--dest', tmp_path], env={'MGR_FMA_URL': fma_server.url + '/fma'})
    err = r.stderr.strip().splitlines()[-1]                 # the lines above it are the progress bars
    assert r.returncode == 1 and 'Traceback' not in r.stderr and err.startswith('mgr download: ')
    got = hashlib.sha1(fma_server.files['/fma/fma_metadata.zip']).hexdigest()
    assert f"{tmp_path/'fma_metadata.zip'}: SHA-1 is {got}, expected {CFG.fma_metadata_sha1}" in err
    assert 'delete it and download again' in err and (tmp_path/'fma_metadata.zip.bad').exists()
    assert not (tmp_path/'fma_metadata.zip').exists() and not (tmp_path/'fma_metadata').exists()   # nothing unverified extracted


def test_mgr_download_interrupted_then_resumed(fma_server, tmp_path):
    "Every try dropped midway: the command stops with a line saying the part was kept; run again: it resumes and extracts."
    meta, small = fma_server.files['/fma/fma_metadata.zip'], fma_server.files['/fma/fma_small.zip']
    sha = [hashlib.sha1(meta).hexdigest(), hashlib.sha1(small).hexdigest()]
    cmd = [sys.executable, '-c', WITH_SHA1, *sha, 'download', '--dest', str(tmp_path)]
    env = {'MGR_FMA_URL': fma_server.url + '/fma'}
    fma_server.cut = DropsFirst({'/fma/fma_metadata.zip': 4})                # the first try and its 3 retries
    r = run(cmd, env=env)
    part = tmp_path/'fma_metadata.zip.part'
    err = r.stderr.strip().splitlines()[-1]
    assert r.returncode == 1 and 'Traceback' not in r.stderr and err.startswith('mgr download: '), r.stderr
    assert 'download interrupted' in err and f'{part} was kept: run again to resume' in err
    kept = part.stat().st_size
    assert 0 < kept < len(meta) and meta.startswith(part.read_bytes())
    r = run(cmd, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"FMA small is ready in {tmp_path}: run the course on it with --data {tmp_path} (or MGR_DATASET={tmp_path})"
    assert (fma_server.log[4][1], fma_server.log[-1][1]) == (f'bytes={kept}-', None)   # resumed, then the second archive whole
    assert (tmp_path/'fma_small'/'000'/'000002.mp3').read_bytes() == b'mp3' and (tmp_path/'fma_metadata'/'tracks.csv').exists()
    assert not part.exists()
    n = len(fma_server.log)
    assert run(cmd, env=env).returncode == 0 and len(fma_server.log) == n       # done: nothing fetched again


def test_make_reproduce_passes_its_arguments(tmp_path):
    "make reproduce ARGS=\"--steps 2 ...\" at test sizes: the runs it writes stopped at 2 optimizer steps (1 for the CRNN)."
    args = f'--steps 2 --out {tmp_path/"out"} --runs {tmp_path/"runs"}'
    # -o: the environment is the one running these tests; make must not rebuild it
    r = run(['make', '-o', '.venv/.installed', 'reproduce', f'ARGS={args}'])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads((tmp_path/'out'/'results.json').read_text())
    steps = {n: row['train']['steps'] for n, row in res['rows'].items() if row.get('kind') == 'network'}
    assert steps == {'Raw1DCNN': 2, 'Mel2DCNN': 2, 'MFCC2DCNN': 2, 'LateFusionCRNN': 1}, steps
    assert all(json.loads((tmp_path/'runs'/n/'summary.json').read_text())['steps'] == s for n, s in steps.items())
    assert 'Table I' in r.stdout and (tmp_path/'out'/'table1.md').exists()


def test_run_chapters_reexecutes_a_chapter(tmp_path):
    "tools/run_chapters.py on a copy of the clone: chapter 00 runs, gets its outputs and the library's hash, and is no longer stale."
    for d in ('tools', 'nbs', 'mgr_course'): (tmp_path/d).mkdir()
    shutil.copy(ROOT/'tools'/'run_chapters.py', tmp_path/'tools')
    shutil.copy(ROOT/'pyproject.toml', tmp_path)
    (tmp_path/'fixtures').symlink_to(ROOT/'fixtures')
    for p in (ROOT/'mgr_course').glob('*.py'): shutil.copy(p, tmp_path/'mgr_course')
    nb = tmp_path/'nbs'/'00_config.ipynb'
    d = json.loads((ROOT/'nbs'/'00_config.ipynb').read_text())
    for c in d['cells']:
        if c['cell_type'] == 'code': c['outputs'] = []
    d['metadata'].pop('mgr_course', None)
    nb.write_text(json.dumps(d, indent=1))
    tool = [sys.executable, str(tmp_path/'tools'/'run_chapters.py')]
    r = run([*tool, '--check'])
    assert r.returncode == 1 and r.stdout.strip() == 'stale: nbs/00_config.ipynb'
    r = run([*tool, '00_config'])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    out = json.loads(nb.read_text())
    text = ''.join(''.join(o.get('text', '')) for c in out['cells'] if c['cell_type'] == 'code' for o in c['outputs'])
    assert f"native bf16: " in text and 'CPU autocast' in text                 # the chapter's own printout, just made
    spec = importlib.util.spec_from_file_location('run_chapters_copy', tmp_path/'tools'/'run_chapters.py')
    tool_mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(tool_mod)
    assert out['metadata']['mgr_course']['library'] == tool_mod.library_hash()   # the hash of the copy's mgr_course/
    r = run([*tool, '--check'])
    assert r.returncode == 0 and r.stdout == '', r.stdout
    r = run([*tool, '00_nothing'])
    assert r.returncode == 1 and 'unknown chapter' in r.stderr
