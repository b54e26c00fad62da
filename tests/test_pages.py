"""The website as a reader sees it, checked on its source: the notebooks `nbdev-proc-nbs` writes to _proc/, which Quarto
renders page by page. Quarto is not installed where the tests run, so this is the guard: true signatures (no test-time
config), real parameters, no machine path, no warning or stderr in an output, a description for every public name."""
import ast, json, os, re, subprocess, sys
from dataclasses import fields
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(p.stem for p in (ROOT/'mgr_course').glob('*.py') if not p.stem.startswith('_'))

def test_time_fields() -> dict:
    "The config fields that `IN_TEST` changes, with their test values: computed from `default_config`, not listed here."
    from mgr_course.config import Config, default_config
    old = os.environ.get('IN_TEST')
    try:
        os.environ['IN_TEST'] = '1'; small = default_config()
        os.environ.pop('IN_TEST'); full = default_config()
    finally:
        if old is None: os.environ.pop('IN_TEST', None)
        else: os.environ['IN_TEST'] = old
    return {f.name: getattr(small, f.name) for f in fields(Config) if getattr(small, f.name) != getattr(full, f.name)}
test_time_fields.__test__ = False   # a helper, not a test

def public_names() -> dict:
    "'module.name' -> kind ('function', 'class', 'exception', 'record' or 'constant') of every name in a module's `__all__`."
    import importlib, inspect
    out = {}
    for m in MODULES:
        mod = importlib.import_module(f'mgr_course.{m}')
        for n in getattr(mod, '__all__', []):
            o = getattr(mod, n)
            out[f'{m}.{n}'] = ('exception' if inspect.isclass(o) and issubclass(o, BaseException)
                               else 'record' if inspect.isclass(o) and issubclass(o, tuple) and hasattr(o, '_fields')   # a namedtuple
                               else 'class' if inspect.isclass(o)
                               else 'function' if inspect.isfunction(o) else 'constant')
    return out

def _text(x) -> str: return ''.join(x) if isinstance(x, list) else (x or '')

_DOC = re.compile(r'^---\s*\n(?:.*\n)*?#+ (?P<name>[\w.]+)\s*\n\s*```python\n(?P<sig>.*?)\n```[ \t]*\n?(?P<rest>.*)\Z', re.S)

def pages(proc_dir: Path):
    "Every page's cells: (page, 'cell N (id ...)', cell)."
    for nb in sorted(Path(proc_dir).glob('*.ipynb')):
        for i, c in enumerate(json.loads(nb.read_text())['cells']):
            yield nb.name, f"cell {i} (id {c.get('id', '?')})", c

def show_docs(cell) -> list:
    "The (name, signature, description) of each show_doc output in `cell`."
    out = []
    for o in cell.get('outputs', []):
        m = _DOC.match(_text(o.get('data', {}).get('text/markdown')))
        if m: out.append((m['name'], m['sig'], m['rest'].strip().split('\n\n')[0].strip()))
    return out

def output_texts(cell) -> list:
    "The text of each output of `cell`: streams, tracebacks, and every text-like representation (not images)."
    out = []
    for o in cell.get('outputs', []):
        if o.get('output_type') == 'stream': out.append(_text(o.get('text')))
        elif o.get('output_type') == 'error': out.append('\n'.join(o.get('traceback', [])))
        for mime, v in o.get('data', {}).items():
            if mime.startswith('text/') or mime in ('application/json', 'image/svg+xml'): out.append(_text(v))
    return out

# A path of the machine that ran a notebook: an absolute POSIX folder of the usual roots, a Windows drive, an installed package
MACHINE_PATH = re.compile(r'(?<![\w.~/-])(?:/(?:work|home|tmp|root|Users|usr|opt|var|mnt|private|scratch|srv|data)/'
                          r'|[A-Za-z]:\\)|site-packages|dist-packages|\.venv/')
WARNING = re.compile(r'\b\w*Warning: |\bwarnings\.warn\(|^\s*warn\(', re.M)
STAR_ARGS = re.compile(r'\(\s*\*args(?::[^,()]*)?,\s*\*\*kwargs(?::[^,()]*)?\s*\)')
PARAM = re.compile(r'(\w+)\s*(?::[^=,()]*)?=\s*(-?\d[\w.+-]*|\'[^\']*\'|"[^"]*"|True|False)')

def _unquoted(s: str) -> str: return re.sub(r'`[^`]*`', '', s)

def signature_defects(sig: str, tfields: dict, exception: bool = False) -> list:
    "Test-time config shown in a rendered signature, and parameters hidden as `(*args, **kwargs)`."
    out = []
    for m in re.finditer(r'Config\(([^()]*)\)', sig):                 # a Config's repr names the fields off the paper's
        bad = [k for k in re.findall(r'(\w+)=', m[1]) if k in tfields]
        if bad: out.append(f"shows the test-time config Config({m[1]}) (fields {', '.join(bad)} change under IN_TEST): "
                           f"default to None and resolve the config inside")
    for name, val in PARAM.findall(re.sub(r'Config\([^()]*\)', 'Config()', sig)):                              # a field read at import: `per_genre: int = CFG.synthetic_per_genre`
        for f, v in tfields.items():
            if (name == f or f.endswith('_' + name)) and val == repr(v):
                out.append(f"shows {name}={val}, the test-time value of Config.{f}: default to None and read cfg.{f} inside")
    if STAR_ARGS.search(sig) and not exception:          # an exception's (or a namedtuple's) own signature is (*args, **kwargs)
        out.append('shows (*args, **kwargs) instead of its parameters: give it an __init__ with them')
    return out

def page_defects(proc_dir: Path, public: dict | None = None, tfields: dict | None = None, root: Path = ROOT) -> list:
    "Everything a reader should not meet on the pages in `proc_dir`, one message per defect naming the page and the cell."
    public = public_names() if public is None else public
    tfields = test_time_fields() if tfields is None else tfields
    roots = {str(root), str(Path.home())} - {'/', ''}
    exceptions = {q.split('.', 1)[1]: k in ('exception', 'record') for q, k in public.items()}
    out, documented = [], {}
    for page, where, c in pages(proc_dir):
        at = f"{page} {where}"
        docs = show_docs(c)
        for name, sig, desc in docs:
            documented.setdefault(name, (at, desc))
            out += [f"{at}: {name} {d}" for d in signature_defects(sig, tfields, exceptions.get(name, False))]
            if not desc.startswith('*') or len(desc.strip('* ')) == 0:
                out.append(f"{at}: {name} has no description: give it a one-line docstring")
            elif '*' in _unquoted(desc[1:-1]):
                out.append(f"{at}: {name}'s description has a bare '*', which Markdown reads as emphasis: put code in backticks")
        for o in c.get('outputs', []):
            if o.get('output_type') == 'stream' and o.get('name') == 'stderr':
                out.append(f"{at}: output on stderr: {_text(o.get('text')).strip()[:120]!r}")
            if o.get('output_type') == 'error': out.append(f"{at}: an error output ({o.get('ename')})")
        for t in ([] if docs else output_texts(c)) + [sig for _, sig, _ in docs]:
            m = MACHINE_PATH.search(t) or next((re.search(re.escape(r), t) for r in roots if r in t), None)
            if m:
                line = next(l for l in t.splitlines() if m[0] in l)
                out.append(f"{at}: machine path {m[0]!r} in an output: {line.strip()[:120]!r}")
            w = WARNING.search(t)
            if w: out.append(f"{at}: warning in an output: {t[w.start():].splitlines()[0][:120]!r}")
    # every public function, class and exception is documented on some page; constants and namedtuples (whose signature
    # nbdev cannot show) are told in the prose
    for q, kind in public.items():
        if kind in ('function', 'class', 'exception') and q.split('.', 1)[1] not in documented:
            out.append(f"{q} is public but no page shows its documentation: give it its own `show_doc` cell (one per cell: "
                       f"a cell shows only its last value), not hidden")
    return out

def test_pages_show_what_a_reader_needs(proc_dir):
    defects = page_defects(proc_dir)
    assert not defects, f"{len(defects)} defect(s) on the website's pages (_proc/ from nbdev-proc-nbs):\n" + '\n'.join(defects)

_DEFAULTS = '''
import importlib, inspect, json, re, sys
out = {}
for m in sys.argv[1:]:
    mod = importlib.import_module(f'mgr_course.{m}')
    for n in getattr(mod, '__all__', []):
        o = getattr(mod, n)
        if not callable(o): continue
        try: sig = inspect.signature(o)
        except (TypeError, ValueError): continue
        for p in sig.parameters.values():
            if p.default is not p.empty: out[f'{m}.{n}({p.name})'] = re.sub(r' at 0x[0-9a-f]+', '', repr(p.default))
print(json.dumps(out))
'''

def test_defaults_do_not_depend_on_the_environment():
    "The library's own defaults, imported with and without IN_TEST, are the same: so is every signature on every page."
    def defaults(env):
        r = subprocess.run([sys.executable, '-c', _DEFAULTS, *MODULES], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout.strip().splitlines()[-1])
    base = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}
    full, small = defaults(base), defaults({**base, 'IN_TEST': '1'})
    differ = [f"{k}: {full[k]} (default config) but {small[k]} under IN_TEST" for k in full if small.get(k) != full[k]]
    assert not differ, 'defaults evaluated at import from the run-size config:\n' + '\n'.join(differ)

# --- the check fails when each defect of the issue is put back ---

def _nb(cells) -> dict: return {'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
def _doc(name, sig, doc):
    md = f"---\n\n### {name}\n\n```python\n{sig}\n```\n\n" + (f"*{doc}*" if doc else '')
    return {'cell_type': 'code', 'id': f'sd-{name}', 'source': f'show_doc({name})', 'metadata': {},
            'outputs': [{'output_type': 'execute_result', 'metadata': {}, 'data': {'text/markdown': [md]}}]}
def _out(text, name='stdout', id='out'):
    return {'cell_type': 'code', 'id': id, 'source': 'x', 'metadata': {},
            'outputs': [{'output_type': 'stream', 'name': name, 'text': [text]}]}

TFIELDS = dict(batch_size=8, synthetic_per_genre=6, synthetic_seconds=8.0, patience=2)
GOOD = [_doc('paper_table', 'def paper_table(\n    cfg:Config | None=None\n)->pd.DataFrame:', 'Table I.'),
        _doc('generate_synthetic', "def generate_synthetic(\n    root, per_genre:int | None=None, seconds:float | None=None, n_jobs:int=2\n)->Path:",
             'Write `per_genre` clips per genre.'),
        _doc('GlobalPool', 'class GlobalPool(\n    \n):', 'Global max and mean pooling: `[B, C, *size] -> [B, 2C]`.'),
        _doc('DownloadError', 'def DownloadError(\n    *args, **kwargs\n):', 'A download that failed.'),   # an exception's real signature
        _out('dataset: data/synthetic-160x12s-seed0\n')]
PUBLIC = {'results.paper_table': 'function', 'synthetic.generate_synthetic': 'function', 'models.GlobalPool': 'class',
          'files.DownloadError': 'exception', 'config.GENRES': 'constant'}

def _defects(tmp_path, cells, public=PUBLIC):
    d = tmp_path/'proc'; d.mkdir(exist_ok=True)
    (d/'09_experiment.ipynb').write_text(json.dumps(_nb(cells)))
    return page_defects(d, public=public, tfields=TFIELDS)

def test_the_check_passes_a_clean_page(tmp_path):
    assert _defects(tmp_path, GOOD) == []

def test_the_check_fails_on_each_defect(tmp_path):
    def one(i, cell, public=PUBLIC, expect='', where='09_experiment.ipynb cell'):
        "GOOD with its cell `i` replaced by `cell` (appended if i is None): exactly one defect, naming the page and the cell."
        cells = GOOD + [cell] if i is None else GOOD[:i] + [cell] + GOOD[i + 1:]
        found = _defects(tmp_path, cells, public)
        assert len(found) == 1 and expect in found[0] and where in found[0], found
    # 1. a signature showing the test-time config: a Config default's repr, or a field read at import
    one(0, _doc('paper_table', 'def paper_table(\n    cfg:Config=Config(batch_size=8, patience=2)\n)->pd.DataFrame:', 'Table I.'),
        expect='test-time config')
    one(1, _doc('generate_synthetic', 'def generate_synthetic(\n    root, per_genre:int=6, seconds:float | None=None\n)->Path:', 'Write clips.'),
        expect='per_genre=6')
    # 2. a class without its parameters; a name without a description; a docstring read as emphasis; a public name not shown
    one(2, _doc('GlobalPool', 'def GlobalPool(\n    *args:Any, **kwargs:Any\n)->None:', 'Pooling.'), expect='(*args, **kwargs)')
    one(2, _doc('GlobalPool', 'class GlobalPool(\n    \n):', ''), expect='no description')
    one(1, _doc('generate_synthetic', 'def generate_synthetic(\n    root\n)->Path:', 'Sizes from the synthetic_* settings.'), expect='emphasis')
    one(None, _out('x\n', id='x'), public={**PUBLIC, 'cli.cmd_train': 'function'}, expect='cli.cmd_train is public', where='')
    # 4. a machine path, a warning or stderr in an output (3, width, is CSS: see test_the_css_check_fails_without_its_rules)
    one(4, _out('dataset: /work/main/data/synthetic-40x12s-seed0\n'), expect='machine path')
    one(4, _out('  File "/x/.venv/lib/python3.11/site-packages/torchaudio/io.py"\n'), expect='machine path')
    one(4, _out(f'saved to {ROOT}/results/table.csv\n'), expect='machine path')
    one(None, _out('torchaudio/_backend.py:12: UserWarning: In 2.9, this function will change\n', id='w'), expect='warning')
    one(None, _out('loading\n', name='stderr', id='e'), expect='stderr')

# 3. Wide content: Quarto is not run here, so the rules that keep it in its box are checked in nbs/styles.css itself.
SCROLLS = ('.math.display', 'mjx-container[display="true"]', 'main table', '.cell-output-display', 'div.cell-output pre',
           'div.cell-output-stdout pre')

def css_defects(css: str) -> list:
    "Display math, tables and text outputs that would not scroll inside their own box (`overflow-x: auto`) in `css`."
    css = re.sub(r'/\*.*?\*/', '', css, flags=re.S)
    rules = {}
    for sels, body in re.findall(r'([^{}]+)\{([^{}]*)\}', css):
        for sel in sels.split(','): rules[sel.strip()] = rules.get(sel.strip(), '') + body.replace(' ', '') + ';'
    out = [f"nbs/styles.css: '{sel}' must scroll in its own box (overflow-x: auto; max-width: 100%)" for sel in SCROLLS
           if 'overflow-x:auto' not in rules.get(sel, '') or 'max-width:100%' not in rules.get(sel, '')]
    if 'white-space:pre;' not in rules.get('div.cell-output pre code', ''):
        out.append("nbs/styles.css: text outputs must keep their lines ('div.cell-output pre code { white-space: pre }') and scroll")
    return out

def test_styles_keep_wide_content_in_its_box():
    assert css_defects((ROOT/'nbs'/'styles.css').read_text()) == []
    assert yaml_option('code-overflow') in ('wrap', 'scroll')

def yaml_option(key):
    import yaml
    return yaml.safe_load((ROOT/'_quarto.yml').read_text())['format']['html'].get(key)

def test_the_css_check_fails_without_its_rules():
    css = (ROOT/'nbs'/'styles.css').read_text()
    for sel in ('.math.display', 'main table', 'div.cell-output pre,'):
        broken = re.sub(re.escape(sel) + r'\s*', 'p.unrelated' + (',' if sel.endswith(',') else ' '), css)
        assert any(sel.rstrip(',') in d for d in css_defects(broken)), sel
    assert css_defects(css.replace('white-space: pre;', 'white-space: pre-wrap;'))
