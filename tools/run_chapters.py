"""Re-execute the chapters in place with the course's default config, so that the outputs committed in nbs/ (which the
website shows) come from the library as it stands; each notebook records the hash of mgr_course/ that produced it.

    .venv/bin/python tools/run_chapters.py            # every chapter
    .venv/bin/python tools/run_chapters.py 06_learner  # some chapters
    .venv/bin/python tools/run_chapters.py --check     # list the chapters whose outputs come from another library

`make chapters` runs the first form; `make test` runs the check (tests/test_outputs.py)."""
from __future__ import annotations
import argparse, hashlib, json, os, subprocess, sys, time
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, LIB = ROOT/'nbs', ROOT/'mgr_course'
KEY = 'mgr_course'          # notebook metadata key (kept by nbdev-clean: see allowed_metadata_keys in pyproject.toml)

def chapters() -> list[Path]:
    "The chapters, in order (notebooks whose name starts with '_' or '.' are scratch)."
    return sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))

def library_hash() -> str:
    "SHA-1 of the library's source files (names and contents): the same on every clone of the same commit."
    h = hashlib.sha1()
    for p in sorted(LIB.glob('*.py')):
        h.update(p.name.encode() + b'\0' + p.read_bytes() + b'\0')
    return h.hexdigest()[:16]

def recorded_hash(nb: Path) -> str | None:
    "The library hash a chapter's outputs were made with, or None if it was never executed by this script."
    return json.loads(nb.read_text()).get('metadata', {}).get(KEY, {}).get('library')

def stale() -> list[str]:
    "Chapters whose committed outputs were made by another version of the library."
    h = library_hash()
    return [nb.name for nb in chapters() if recorded_hash(nb) != h]

ESCAPES = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')

def clean_streams(d: dict) -> dict:
    "Terminal escapes (ipywidgets' clear_output, progress bars) out of the stream outputs of notebook `d`: of a line that a "
    "carriage return overwrote, the last text; a stream left empty is dropped (the page would show an empty box)."
    for c in d.get('cells', []):
        if 'outputs' not in c: continue
        keep = []
        for o in c['outputs']:
            if o.get('output_type') == 'stream':
                text = ESCAPES.sub('', ''.join(o.get('text', [])))
                text = '\n'.join(line.rstrip('\r').split('\r')[-1] for line in text.split('\n'))
                if not text.strip(): continue
                o['text'] = text.splitlines(keepends=True)
            keep.append(o)
        c['outputs'] = keep
    return d

def execute(nb: Path, timeout: int = 3600):
    "Run `nb` top to bottom from nbs/ (as nbdev does), write it back with its outputs and the library hash, then clean it."
    from execnb.shell import CaptureShell
    os.environ.pop('IN_TEST', None)                      # the default config, not the tests' small sizes
    cwd = os.getcwd(); os.chdir(NBS)
    try:
        sh = CaptureShell()
        sh.execute(nb, nb, exc_stop=True, cell_timeout=timeout)
    finally: os.chdir(cwd)
    d = clean_streams(json.loads(nb.read_text()))
    d.setdefault('metadata', {})[KEY] = {'library': library_hash()}
    nb.write_text(json.dumps(d, indent=1, ensure_ascii=False) + '\n')

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('names', nargs='*', help='chapters to run (default: all), e.g. 06_learner')
    p.add_argument('--check', action='store_true', help='only list the chapters whose outputs are stale; exit 1 if any')
    p.add_argument('--one', help=argparse.SUPPRESS)       # internal: execute this notebook in this process
    a = p.parse_args(argv)
    if a.one: return execute(Path(a.one))
    if a.check:
        s = stale()
        for n in s: print(f"stale: nbs/{n}")
        sys.exit(1 if s else 0)
    todo = [nb for nb in chapters() if not a.names or nb.stem in a.names or nb.name in a.names]
    if a.names and len(todo) != len(a.names): sys.exit(f"unknown chapter(s) among {a.names}: see nbs/")
    for nb in todo:
        t0 = time.time(); print(f"executing nbs/{nb.name} ...", flush=True)
        # one process per chapter, as nbdev-test does: no state leaks from one chapter into the next
        r = subprocess.run([sys.executable, __file__, '--one', str(nb)])
        if r.returncode: sys.exit(f"nbs/{nb.name} failed (above); fix it and run again: finished chapters keep their new outputs")
        print(f"  done in {time.time() - t0:.0f} s", flush=True)
    os.system(f"cd {ROOT} && {Path(sys.executable).parent/'nbdev-clean'}")

if __name__ == '__main__': main()
