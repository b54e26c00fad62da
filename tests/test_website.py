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

def chapter_titles(nbs_dir: Path) -> dict:
    "'stem' -> the page title (the first markdown cell's '# ' line) of every chapter in `nbs_dir`, the home page aside."
    import json
    out = {}
    for nb in sorted(Path(nbs_dir).glob('*.ipynb')):
        if nb.stem == 'index' or nb.name.startswith(('_', '.')): continue
        md = next((c for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'markdown'), None)
        first = ''.join(md['source']).split('\n', 1)[0] if md else ''
        out[nb.stem] = first[2:].strip() if first.startswith('# ') else None
    return out

def title_defects(nbs_dir: Path) -> list:
    "Chapter names that differ between a page's title, its number (the file's prefix) and the home page's chapter table "
    "(the sidebar shows each page's title, so it follows)."
    import json, re
    home = ''.join(''.join(c['source']) for c in json.loads((Path(nbs_dir)/'index.ipynb').read_text())['cells']
                   if c['cell_type'] == 'markdown')
    listed = dict((href, text) for text, href in re.findall(r'\[([^\]]+)\]\(([\w.-]+)\.ipynb\)', home))
    out = []
    for stem, title in chapter_titles(nbs_dir).items():
        number = stem.split('_', 1)[0]
        if not title: out.append(f"nbs/{stem}.ipynb: no '# Title' line in its first markdown cell"); continue
        if not title.startswith(number + ' '):
            out.append(f"nbs/{stem}.ipynb: title {title!r} does not start with its number {number!r} (e.g. '01a The synthetic stand-in')")
        if listed.get(stem) != title:
            out.append(f"nbs/index.ipynb: the chapter table lists {stem}.ipynb as {listed.get(stem)!r}, its page is titled {title!r}")
    return out

def test_one_set_of_chapter_titles():
    defects = title_defects(ROOT/'nbs')
    assert not defects, '\n'.join(defects)

def test_the_title_check_fails_on_a_mismatch(tmp_path):
    import json, shutil
    for nb in ('index', '01a_synthetic', '05_models'): shutil.copy(ROOT/'nbs'/f'{nb}.ipynb', tmp_path)
    assert title_defects(tmp_path) == []
    d = json.loads((tmp_path/'05_models.ipynb').read_text())
    md = next(c for c in d['cells'] if c['cell_type'] == 'markdown')
    md['source'] = ['# Models\n'] + (md['source'][1:] if isinstance(md['source'], list) else [])
    (tmp_path/'05_models.ipynb').write_text(json.dumps(d))
    found = title_defects(tmp_path)
    assert len(found) == 2 and "'Models' does not start with its number '05'" in found[0] and 'as ' in found[1], found
