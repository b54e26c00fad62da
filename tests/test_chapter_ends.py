"""Every chapter ends with what it built (each of its module's exported names, one line each) and what comes next; every
teaching chapter with exercises; the infrastructure chapters say, just under their title, that a first reading may skip them."""
import importlib, json, re
from pathlib import Path
import pytest

NBS = Path(__file__).resolve().parents[1]/'nbs'
CHAPTERS = sorted(p for p in NBS.glob('[0-9]*.ipynb'))
TEACHING = ('02', '03', '04', '05', '06', '07', '08', '08a', '09')     # chapters whose ends carry exercises
SKIPPABLE = ('00a', '01a', '01b', '01c', '04a', '04b', '06b')

def cells(nb: Path) -> list: return json.loads(nb.read_text())['cells']
def text(c) -> str: return ''.join(c['source'])
def module(nb: Path) -> str | None:
    m = re.search(r'#\|\s*default_exp\s+(\w+)', text(cells(nb)[0]))
    return m[1] if m else None

def end_defects(nb: Path) -> list:
    "What the end of chapter `nb` lacks: 'What we built' naming every exported name one line each, 'Next', and exercises if it teaches."
    cs, out = cells(nb), []
    built = [text(c) for c in cs if c['cell_type'] == 'markdown' and text(c).startswith('## What we built')]
    if len(built) != 1: return [f"{nb.name}: {len(built)} 'What we built' cells (one, near the end)"]
    listed = re.findall(r'^- `(\w+)`', built[0], re.M)
    names = list(importlib.import_module(f'mgr_course.{module(nb)}').__all__)
    if missing := [n for n in names if n not in listed]:
        out.append(f"{nb.name}: 'What we built' lacks {missing} (`.venv/bin/python tools/what_we_built.py` adds them)")
    if extra := [n for n in listed if n not in names]: out.append(f"{nb.name}: 'What we built' lists {extra}, which the module does not export")
    if '## Next' not in built[0]: out.append(f"{nb.name}: no '## Next' after 'What we built'")
    tail = [text(c) for c in cs[cs.index(next(c for c in cs if text(c) == built[0])) + 1:]]
    if any(t.strip() and not t.startswith('#| hide') for t in tail): out.append(f"{nb.name}: cells after 'What we built' other than the export")
    ch = nb.name.split('_')[0]
    if ch in TEACHING:
        checks = set(re.findall(r"check\('([\w.]+)'", '\n'.join(text(c) for c in cs)))
        if not any(text(c).startswith('## Exercises') for c in cs) or len(checks) < 2:
            out.append(f"{nb.name}: a teaching chapter needs an Exercises section with 2-4 checked exercises, found {sorted(checks)}")
    if ch in SKIPPABLE:
        title = next(i for i, c in enumerate(cs) if c['cell_type'] == 'markdown' and text(c).startswith('# '))
        if 'first reading may skip' not in text(cs[title + 1]): out.append(f"{nb.name}: the line after the title must say a first reading may skip it")
    return out

@pytest.mark.parametrize('nb', CHAPTERS, ids=lambda p: p.stem)
def test_the_chapter_ends_with_what_it_built(nb):
    assert not end_defects(nb)

def test_the_check_sees_a_missing_name_and_missing_exercises(tmp_path):
    nb = json.loads((NBS/'08a_interpret.ipynb').read_text())
    for c in nb['cells']:
        if text(c).startswith('## What we built'): c['source'] = [l for l in c['source'] if not l.startswith('- `embed`')]
    nb['cells'] = [c for c in nb['cells'] if 'check(' not in text(c)]
    p = tmp_path/'08a_interpret.ipynb'; p.write_text(json.dumps(nb))
    d = end_defects(p)
    assert any("lacks ['embed']" in x for x in d) and any('Exercises section' in x for x in d), d

def test_the_check_sees_a_missing_skip_line(tmp_path):
    nb = json.loads((NBS/'00a_files.ipynb').read_text())
    title = next(i for i, c in enumerate(nb['cells']) if text(c).startswith('# '))
    del nb['cells'][title + 1]
    p = tmp_path/'00a_files.ipynb'; p.write_text(json.dumps(nb))
    assert any('first reading may skip' in x for x in end_defects(p))
