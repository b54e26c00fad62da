"The website's sources: nbdev-proc-nbs yields a page for every chapter and carries the top-level Quarto configuration."
import os, shutil, subprocess, sys
from pathlib import Path
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def test_quarto_config_is_the_top_level_file():
    link = ROOT/'nbs'/'_quarto.yml'
    assert link.is_symlink() and os.readlink(link) == '../_quarto.yml', 'nbs/_quarto.yml must be a relative symlink to ../_quarto.yml'
    cfg = yaml.safe_load((ROOT/'_quarto.yml').read_text())
    assert cfg['project']['type'] == 'website'
    listed = yaml.safe_dump(cfg['website']['sidebar']['contents'])
    missing = [p.name for p in (ROOT/'nbs').glob('*.ipynb') if p.name not in listed]
    assert not missing, f'chapters missing from the sidebar in _quarto.yml: {missing}'

def test_proc_nbs_yields_every_page(tmp_path):
    proc = ROOT/'_proc'
    env = {**os.environ, 'PATH': f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if not shutil.which('quarto', path=env['PATH']):
        # nbdev-proc-nbs offers to install Quarto when it is missing (with sudo and a download); processing the
        # notebooks does not need it, so a `quarto` that does nothing stands in for that check only.
        shim = tmp_path/'bin'; shim.mkdir(); (shim/'quarto').write_text('#!/bin/sh\nexit 0\n'); (shim/'quarto').chmod(0o755)
        env['PATH'] = f"{shim}{os.pathsep}{env['PATH']}"
    r = subprocess.run([str(BIN/'nbdev-proc-nbs')], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f'nbdev-proc-nbs failed:\n{r.stdout}\n{r.stderr}'
    for nb in (ROOT/'nbs').glob('*.ipynb'):
        assert (proc/nb.name).exists(), f'nbdev-proc-nbs made no page for {nb.name}'
    staged = proc/'_quarto.yml'
    assert staged.exists() and not staged.is_symlink(), '_proc/_quarto.yml should be a copy of the top-level file'
    assert staged.read_text() == (ROOT/'_quarto.yml').read_text()
