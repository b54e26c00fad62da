"The website's sources: nbdev-proc-nbs yields a page for every chapter and carries the top-level Quarto configuration."
import os
from pathlib import Path
import yaml

ROOT = Path(__file__).resolve().parents[1]

def test_quarto_config_is_the_top_level_file():
    link = ROOT/'nbs'/'_quarto.yml'
    assert link.is_symlink() and os.readlink(link) == '../_quarto.yml', 'nbs/_quarto.yml must be a relative symlink to ../_quarto.yml'
    cfg = yaml.safe_load((ROOT/'_quarto.yml').read_text())
    assert cfg['project']['type'] == 'website'
    listed = yaml.safe_dump(cfg['website']['sidebar']['contents'])
    missing = [p.name for p in (ROOT/'nbs').glob('*.ipynb') if p.name not in listed]
    assert not missing, f'chapters missing from the sidebar in _quarto.yml: {missing}'

def test_proc_nbs_yields_every_page(proc_dir):
    for nb in (ROOT/'nbs').glob('*.ipynb'):
        assert (proc_dir/nb.name).exists(), f'nbdev-proc-nbs made no page for {nb.name}'
    staged = proc_dir/'_quarto.yml'
    assert staged.exists() and not staged.is_symlink(), '_proc/_quarto.yml should be a copy of the top-level file'
    assert staged.read_text() == (ROOT/'_quarto.yml').read_text()
