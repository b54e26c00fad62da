"""Bring each chapter's "What we built" list up to date with its module's exported names (`__all__`), one line each:
a name's existing line is kept, a new name gets the first line of its docstring (a constant, a line to write by hand:
the script says which), a name no longer exported is dropped. Everything after the list (further notes, "## Next") stays.

    .venv/bin/python tools/what_we_built.py            # every chapter; then review, nbdev-clean and commit
    .venv/bin/python tools/what_we_built.py --check    # only list the chapters whose list is out of date; exit 1 if any

tests/test_chapter_ends.py fails while a list is out of date."""
from __future__ import annotations
import argparse, importlib, inspect, json, re, sys
from pathlib import Path

NBS = Path(__file__).resolve().parents[1]/'nbs'
ITEM = re.compile(r'^- `(\w+)`')

def description(obj) -> str | None:
    "The first line of `obj`'s docstring, for a function or class; None for a constant (its line is written by hand)."
    if not (inspect.isfunction(obj) or inspect.isclass(obj)): return None
    d = (inspect.getdoc(obj) or '').strip().split('\n')[0]
    if d.startswith('The worked solution of exercise'): d = d.split(':')[0]
    return (d if d.endswith('.') else d + '.') if d else None

def updated(text: str, module: str) -> tuple[str, list]:
    "The 'What we built' cell `text` with one line per name of `mgr_course.<module>.__all__`, and the names still needing a line."
    mod = importlib.import_module(f'mgr_course.{module}')
    head, _, rest = text.partition('\n\n')
    lines = rest.split('\n')
    n = next((i for i, l in enumerate(lines) if not ITEM.match(l)), len(lines))   # the list ends at the first other line
    old = {ITEM.match(l)[1]: l for l in lines[:n] if ITEM.match(l)}
    new, todo = [], []
    for name in mod.__all__:
        if name in old: new.append(old[name]); continue
        d = description(getattr(mod, name))
        if d is None: todo.append(name); d = 'TODO: say what it is.'
        new.append(f'- `{name}`: {d}')
    return '\n'.join([head, '', *new, *lines[n:]]), todo

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--check', action='store_true', help='only list the out-of-date chapters; exit 1 if any')
    a, stale = p.parse_args(argv), []
    for nb in sorted(NBS.glob('[0-9]*.ipynb')):
        d = json.loads(nb.read_text())
        m = re.search(r'#\|\s*default_exp\s+(\w+)', ''.join(d['cells'][0]['source']))
        cell = next((c for c in d['cells'] if c['cell_type'] == 'markdown' and ''.join(c['source']).startswith('## What we built')), None)
        if not m or cell is None: continue
        text = ''.join(cell['source'])
        new, todo = updated(text, m[1])
        if new == text: continue
        stale.append(nb.name)
        if a.check: print(f'out of date: nbs/{nb.name}'); continue
        cell['source'] = new.splitlines(keepends=True)
        nb.write_text(json.dumps(d, indent=1, ensure_ascii=False) + '\n')
        print(f'updated nbs/{nb.name}' + (f": write a line by hand for {', '.join(todo)}" if todo else ''))
    return 1 if a.check and stale else 0

if __name__ == '__main__': sys.exit(main())
