"The outputs committed in the chapters (what the website shows) were made by the library as it stands."
import importlib.util, shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location('run_chapters', ROOT/'tools'/'run_chapters.py')
rc = importlib.util.module_from_spec(spec); spec.loader.exec_module(rc)

def test_committed_outputs_come_from_this_library():
    stale = rc.stale()
    assert not stale, (f"these chapters' outputs were made by another version of mgr_course/ (or never by "
                       f"tools/run_chapters.py): {', '.join(stale)}. Run `make chapters` (or "
                       f"`.venv/bin/python tools/run_chapters.py {' '.join(n[:-6] for n in stale)}`) and commit the notebooks.")

def test_the_check_sees_a_changed_library(tmp_path, monkeypatch):
    lib, nbs = tmp_path/'mgr_course', tmp_path/'nbs'
    shutil.copytree(rc.LIB, lib, ignore=shutil.ignore_patterns('__pycache__')); nbs.mkdir()
    monkeypatch.setattr(rc, 'LIB', lib); monkeypatch.setattr(rc, 'NBS', nbs)
    nb = nbs/'01_x.ipynb'
    nb.write_text('{"cells": [], "metadata": {"mgr_course": {"library": "%s"}}, "nbformat": 4, "nbformat_minor": 5}' % rc.library_hash())
    assert rc.stale() == []
    (lib/'config.py').write_text((lib/'config.py').read_text() + '\n# a later change\n')
    assert rc.stale() == ['01_x.ipynb']
