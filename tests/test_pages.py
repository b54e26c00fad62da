"""The website as a reader sees it, checked on its source: the notebooks `nbdev-proc-nbs` writes to _proc/, which Quarto
renders page by page. Quarto is not installed where the tests run, so this is the guard: true signatures (no test-time
config, real parameters, readable types and defaults), no machine path, no warning, stderr or terminal escape in an
output, a description for every public name, and what must fit the ~663 px column: tables, display math, printed tables
and figures."""
import ast, base64, json, os, re, struct, subprocess, sys
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
PLATFORM = re.compile(r'\b(?:Linux|Darwin|macOS|Windows)-\d[\w.+-]*|-with-glibc[\d.]+')   # platform.platform()
WARNING = re.compile(r'\b\w*Warning: |\bwarnings\.warn\(|^\s*warn\(', re.M)
STAR_ARGS = re.compile(r'\(\s*\*args(?::[^,()]*)?,\s*\*\*kwargs(?::[^,()]*)?\s*\)')
PARAM = re.compile(r'(\w+)\s*(?::[^=,()]*)?=\s*(-?\d[\w.+-]*|\'[^\']*\'|"[^"]*"|True|False)')

def _unquoted(s: str) -> str: return re.sub(r'`[^`]*`', '', s)

# What show_doc renders from an unannotated default or an old-style annotation, and what a reader should see instead
UNREADABLE = [(r'\w+:NoneType=None', "annotate the parameter `X | None = None` (show_doc shows the default's type, NoneType)"),
              (r'Optional\[[^\]]*\]', "write `X | None` (with `from __future__ import annotations`), as the other signatures do"),
              (r'\w+:(?:function|builtin_function_or_method|method)=\w+', "annotate a callable parameter `Callable` so that it reads by name"),
              (r'<(?:function|class|built-in function|bound method) [^>]*>', "a default shown by its repr: annotate the parameter"),
              (r'#[^\n]*', "a comment inside the signature (show_doc renders it): move it above the `def`")]

def signature_defects(sig: str, tfields: dict) -> list:
    "Test-time config shown in a rendered signature, parameters hidden as `(*args, **kwargs)` (exceptions too), unreadable types."
    out = []
    for m in re.finditer(r'Config\(([^()]*)\)', sig):                 # a Config's repr names the fields off the paper's
        bad = [k for k in re.findall(r'(\w+)=', m[1]) if k in tfields]
        if bad: out.append(f"shows the test-time config Config({m[1]}) (fields {', '.join(bad)} change under IN_TEST): "
                           f"default to None and resolve the config inside")
    for name, val in PARAM.findall(re.sub(r'Config\([^()]*\)', 'Config()', sig)):                              # a field read at import: `per_genre: int = CFG.synthetic_per_genre`
        for f, v in tfields.items():
            if (name == f or f.endswith('_' + name)) and val == repr(v):
                out.append(f"shows {name}={val}, the test-time value of Config.{f}: default to None and read cfg.{f} inside")
    if STAR_ARGS.search(sig):                            # an exception's inherited signature is (*args, **kwargs) too
        out.append('shows (*args, **kwargs) instead of its parameters: give it an __init__ with them (an exception: `message: str`)')
    for pat, what in UNREADABLE:
        m = re.search(pat, sig)
        if m: out.append(f"shows {m[0]!r}: {what}")
    return out

def page_defects(proc_dir: Path, public: dict | None = None, tfields: dict | None = None, root: Path = ROOT) -> list:
    "Everything a reader should not meet on the pages in `proc_dir`, one message per defect naming the page and the cell."
    public = public_names() if public is None else public
    tfields = test_time_fields() if tfields is None else tfields
    roots = {str(root), str(Path.home())} - {'/', ''}
    out, documented = [], {}
    for page, where, c in pages(proc_dir):
        at = f"{page} {where}"
        docs = show_docs(c)
        for name, sig, desc in docs:
            documented.setdefault(name, (at, desc))
            out += [f"{at}: {name} {d}" for d in signature_defects(re.sub(r"'[^'\n]*'|\"[^\"\n]*\"", "''", sig)
                                                                      if '#' in sig else sig, tfields)]
            if not desc.startswith('*') or len(desc.strip('* ')) == 0:
                out.append(f"{at}: {name} has no description: give it a one-line docstring")
            elif '*' in _unquoted(desc[1:-1]):
                out.append(f"{at}: {name}'s description has a bare '*', which Markdown reads as emphasis: put code in backticks")
        for o in c.get('outputs', []):
            if o.get('output_type') == 'stream' and o.get('name') == 'stderr':
                out.append(f"{at}: output on stderr: {_text(o.get('text')).strip()[:120]!r}")
            if o.get('output_type') == 'error': out.append(f"{at}: an error output ({o.get('ename')})")
            if o.get('output_type') == 'stream' and not _text(o.get('text')).strip():
                out.append(f"{at}: an empty {o.get('name')} output {_text(o.get('text'))[:20]!r} (what is left of a cleared "
                           f"line): the page shows an empty box; strip it (tools/run_chapters.py does)")
        for t in ([] if docs else output_texts(c)) + [sig for _, sig, _ in docs]:
            m = MACHINE_PATH.search(t) or next((re.search(re.escape(r), t) for r in roots if r in t), None)
            if m:
                line = next(l for l in t.splitlines() if m[0] in l)
                out.append(f"{at}: machine path {m[0]!r} in an output: {line.strip()[:120]!r}")
            w = WARNING.search(t)
            if w: out.append(f"{at}: warning in an output: {t[w.start():].splitlines()[0][:120]!r}")
            e = ESCAPE.search(t)
            if e: out.append(f"{at}: terminal escape sequence {e[0]!r} in an output (a progress bar or clear_output): "
                             f"the page shows it as text; strip it or leave the output out")
            pl = PLATFORM.search(t)
            if pl: out.append(f"{at}: the machine's platform string {pl[0]!r} in an output: show what the reader needs "
                              f"(device, cores, precision, versions), not the kernel build")
        out += [f"{at}: {d}" for d in fit_defects(c, docs)]
    # every public function, class and exception is documented on some page; constants and namedtuples (whose signature
    # nbdev cannot show) are told in the prose
    for q, kind in public.items():
        if kind in ('function', 'class', 'exception') and q.split('.', 1)[1] not in documented:
            out.append(f"{q} is public but no page shows its documentation: give it its own `show_doc` cell (one per cell: "
                       f"a cell shows only its last value), not hidden")
    return out

# --- what must fit the page's column (Quarto's default body column, measured at 663 px wide in a 1280 px window) ---
COLUMN_PX = 663
MAX_TABLE_COLUMNS = 6     # a markdown table of more columns is split, or its less-read columns go in a second table
MAX_TABLE_CHARS = 80      # the column holds ~85 characters of 16 px body text; a table is counted at each column's
PROSE_CELL = 25           #   longest cell (a cell longer than PROSE_CELL is prose, which wraps: it counts PROSE_CELL) + 3
MAX_MATH_CHARS = 150      # LaTeX source of one display equation: (5), (6) and (7) on one line were 1,137 px wide
COLUMN_CHARS = 85         # characters of 16 px body text in the column
PANDOC_COLUMNS = 72       # pandoc's --columns: a pipe table with a longer source line is laid out by its dashes
MAX_TEXT_TABLE_CHARS = 80 # a printed table or help (columns aligned with runs of spaces) garbles when the page wraps it
MIN_LABEL_PX = 10         # a figure's 10-pt text (matplotlib's default for ticks and labels) as shown, in px
ESCAPE = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]?|\[2K')
RICH = ('image/png', 'image/jpeg', 'image/svg+xml', 'text/html', 'text/markdown', 'text/latex',
        'application/vnd.jupyter.widget-view+json')   # what Quarto shows instead of text/plain

def _visible(cell: str) -> str:
    "A markdown table cell's text as shown: links by their text, no backticks, emphasis or math delimiters."
    cell = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', cell)
    return re.sub(r'\*\*|(?<!\\)\*|`|\$', '', cell).strip()

def _cells(row: str) -> list: return [x.strip() for x in re.split(r'(?<!\\)\|', row.strip().strip('|'))]

def markdown_tables(md: str) -> list:
    "Each pipe table in `md`: (rows of visible cells, header first; the separator's dash counts; its longest source line)."
    lines, out = md.splitlines(), []
    for i, l in enumerate(lines):
        if i and re.match(r'^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$', l) and '|' in l and '|' in lines[i - 1]:
            rows, j = [lines[i - 1]], i + 1
            while j < len(lines) and '|' in lines[j]: rows.append(lines[j]); j += 1
            out.append(([[_visible(x) for x in _cells(r)] for r in rows], [x.count('-') for x in _cells(l)],
                        max(len(r) for r in rows + [l])))
    return out

def squeezed_columns(rows: list, dashes: list, longest: int) -> list:
    "Columns that pandoc's layout would wrap although they are not prose: a table with a source line longer than 72 "
    "characters spans the column, each column getting a share in proportion to its separator's dashes."
    if longest <= PANDOC_COLUMNS or not dashes: return []
    out = []
    for k, d in enumerate(dashes):
        need = max((len(r[k]) for r in rows if k < len(r)), default=0)
        share = COLUMN_CHARS * d / sum(dashes) - 3
        if need <= PROSE_CELL and need > share: out.append((rows[0][k] if k < len(rows[0]) else str(k), need, int(share)))
    return out

def table_width(rows: list) -> int:
    "Characters a table needs: per column, its longest cell (at most PROSE_CELL: longer ones are prose and wrap) + 3."
    n = max(map(len, rows))
    return sum(min(max((len(r[k]) for r in rows if k < len(r)), default=0), PROSE_CELL) + 3 for k in range(n))

def png_size(b: bytes) -> tuple:
    "(width px, dpi) of a PNG: its IHDR and pHYs chunks (72 dpi when pHYs is absent)."
    w, dpi, i = struct.unpack('>I', b[16:20])[0], 72.0, 8
    while i + 8 <= len(b):
        n, kind = struct.unpack('>I', b[i:i + 4])[0], b[i + 4:i + 8]
        if kind == b'pHYs':
            x, unit = struct.unpack('>IxxxxB', b[i + 8:i + 17])
            if unit == 1: dpi = x * 0.0254
        if kind == b'IDAT': break
        i += 12 + n
    return w, dpi

def fit_defects(cell, docs: list) -> list:
    "What in `cell` does not fit the column: wide or many-column tables, long display math, wide printed tables, small figures."
    out = []
    md = [_text(cell.get('source'))] if cell.get('cell_type') == 'markdown' else \
         [_text(o.get('data', {}).get('text/markdown')) for o in cell.get('outputs', [])] if not docs else []
    for t in md:
        for rows, dashes, longest in markdown_tables(t):
            n, w = max(map(len, rows)), table_width(rows)
            if n > MAX_TABLE_COLUMNS or w > MAX_TABLE_CHARS:
                out.append(f"a markdown table of {n} columns, {w} characters wide (limits: {MAX_TABLE_COLUMNS} columns, "
                           f"{MAX_TABLE_CHARS} characters), header {' | '.join(rows[0])[:80]!r}: its cells would wrap or "
                           f"hide beyond the column; split it or shorten its cells")
            else:
                for head, need, share in squeezed_columns(rows, dashes, longest):
                    out.append(f"a markdown table whose column {head!r} needs {need} characters but gets {share}: a source "
                               f"line over {PANDOC_COLUMNS} characters makes pandoc size the columns by the separator's "
                               f"dashes {dashes}: give each column dashes in proportion to its width")
        for m in re.finditer(r'\$\$(.*?)\$\$', t, re.S):
            tags = len(re.findall(r'\\tag\{|\\quad\s*\(\d+\)', m[1]))
            if len(m[1].strip()) > MAX_MATH_CHARS or tags > 1:
                out.append(f"display math of {len(m[1].strip())} characters with {tags} equation numbers "
                           f"({m[1].strip()[:60]!r}): one equation per display line (limit {MAX_MATH_CHARS} characters)")
    for o in cell.get('outputs', []) if not docs else []:
        data = o.get('data', {})
        if 'image/png' in data:
            w, dpi = png_size(base64.b64decode(_text(data['image/png'])))
            label = 10 * dpi / 72 * min(1, COLUMN_PX / w)
            if label < MIN_LABEL_PX:
                out.append(f"a figure {w} px wide at {dpi:.0f} dpi ({w / dpi:.1f} in): its 10-pt text shows at {label:.1f} px "
                           f"in the {COLUMN_PX} px column (at least {MIN_LABEL_PX}): draw it at most "
                           f"{COLUMN_PX / 72:.1f} in wide, at 72 dpi or more")
        text = _text(o.get('text')) if o.get('output_type') == 'stream' else \
               _text(data.get('text/plain')) if data and not any(k in data for k in RICH) else ''
        wide = [l for l in text.splitlines() if len(l) > MAX_TEXT_TABLE_CHARS and re.search(r'\S {2,}\S', l.strip())]
        if wide: out.append(f"a printed table {len(wide[0])} characters wide (columns aligned with spaces, which the page "
                            f"wraps): print it at most {MAX_TEXT_TABLE_CHARS} wide: {wide[0][:80]!r}")
    return out

def test_pages_show_what_a_reader_needs(proc_dir):
    defects = page_defects(proc_dir)
    assert not defects, f"{len(defects)} defect(s) on the website's pages (_proc/ from nbdev-proc-nbs):\n" + '\n'.join(defects)

def escape_defects(nbs_dir: Path) -> list:
    "Terminal escape sequences in the committed outputs of the notebooks in `nbs_dir` (nbdev strips them from the pages, "
    "but a reader of the notebook meets them, and what is left on the page is an empty box)."
    out = []
    for page, where, c in pages(nbs_dir):
        for t in output_texts(c):
            e = ESCAPE.search(t)
            if e: out.append(f"nbs/{page} {where}: terminal escape sequence {e[0]!r} in a committed output: re-execute it with "
                             f"tools/run_chapters.py, which strips them")
    return out

def test_committed_outputs_hold_no_terminal_escapes():
    defects = escape_defects(ROOT/'nbs')
    assert not defects, '\n'.join(defects)

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
def _md(text, id='md'): return {'cell_type': 'markdown', 'id': id, 'source': text, 'metadata': {}}
def _data(mime, value, id='data'):
    return {'cell_type': 'code', 'id': id, 'source': 'x', 'metadata': {},
            'outputs': [{'output_type': 'display_data', 'metadata': {}, 'data': {'text/plain': ['<x>'], mime: value}}]}
def _png(width: int, dpi: float) -> str:
    "A PNG `width` px wide (2 high) whose pHYs says `dpi`, base64 as in a notebook: all the figure check reads."
    import zlib
    def chunk(kind, data): return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    ppm = round(dpi / 0.0254)
    raw = b''.join(b'\x00' + b'\xff' * width for _ in range(2))
    png = (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, 2, 8, 0, 0, 0, 0))
           + chunk(b'pHYs', struct.pack('>IIB', ppm, ppm, 1)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
    return base64.b64encode(png).decode()
TABLE = '| model | top-1 [95% CI] | McNemar p |\n|:--|--:|--:|\n| Mel2DCNN | 51.2% [45.0, 57.5] | |\n| Raw1DCNN | 34.6% [28.9, 40.8] | 0.0001 |\n'
WIDE_TABLE = ('| | weights (paper / ours) | top-1 (paper / ours [95% CI]) | multi-crop top-1 [95% CI] | McNemar p | precision |\n'
              '|---|---|---|---|---|---|\n| Mel2DCNN | 156,104 / 156,104 | 48.1% / 51.2% [45.0, 57.5] | 50.1% [43.8, 56.4] | 0.032 | 47.9% |\n')

TFIELDS = dict(batch_size=8, synthetic_per_genre=6, synthetic_seconds=8.0, patience=2)
GOOD = [_doc('paper_table', 'def paper_table(\n    cfg:Config | None=None\n)->pd.DataFrame:', 'Table I.'),
        _doc('generate_synthetic', "def generate_synthetic(\n    root, per_genre:int | None=None, seconds:float | None=None, n_jobs:int=2\n)->Path:",
             'Write `per_genre` clips per genre.'),
        _doc('GlobalPool', 'class GlobalPool(\n    \n):', 'Global max and mean pooling: `[B, C, *size] -> [B, 2C]`.'),
        _doc('DownloadError', 'def DownloadError(\n    message:str\n):', 'A download that failed.'),
        _out('dataset: data/synthetic-160x12s-seed0\n'),
        _md('Top-1 and its interval:\n\n' + TABLE + '\n$$\\text{recall} = \\frac1K\\sum_k \\frac{TP_k}{TP_k+FN_k} \\tag{7}$$\n', id='md'),
        _data('image/png', _png(1152, 144), id='fig'),            # 8 in wide, drawn at 72 dpi and saved at twice that (retina)
        _out('usage: mgr train [-h] [--data DATA]\n  --data DATA   the dataset\n' + 'a result line that wraps ' * 8 + '\n', id='txt')]
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
    # 5. signatures a reader cannot use: NoneType, Optional[...], a function's type, a comment, an exception's (*args, **kwargs)
    one(0, _doc('paper_table', 'def paper_table(\n    cfg:Config | None=None, valid_dl:NoneType=None\n)->pd.DataFrame:', 'Table I.'),
        expect='NoneType')
    one(0, _doc('paper_table', 'def paper_table(\n    cfg:Config | None=None, f:Optional[Callable]=None\n)->pd.DataFrame:', 'Table I.'),
        expect='Optional[Callable]')
    one(0, _doc('paper_table', 'def paper_table(\n    loss_func:function=cross_entropy\n)->pd.DataFrame:', 'Table I.'),
        expect='loss_func:function=cross_entropy')
    one(0, _doc('paper_table', 'def paper_table(\n    dataset, # the keywords are DataLoader\'s\n    **kwargs\n):', 'Table I.'),
        expect='comment')
    one(3, _doc('DownloadError', 'def DownloadError(\n    *args, **kwargs\n):', 'A download that failed.'), expect='(*args, **kwargs)')
    # 6. what does not fit the column: tables, display math, figures, printed tables; an empty output; an escape sequence
    one(5, _md(WIDE_TABLE), expect='markdown table of 6 columns')
    one(5, _md(TABLE.replace('| McNemar p |', '| McNemar p | a | b | c | d |').replace('--:|\n', '--:|--|--|--|--|\n', 1)),
        expect='markdown table of 7 columns')
    one(None, _data('text/markdown', [WIDE_TABLE], id='t1'), expect='markdown table')
    squeezed = ('| model | top-1 [95% CI] | multi-crop [95% CI] | McNemar p |\n|---|---|---|---|\n'
                '| LateFusionCRNN | 51.2% [45.0, 57.5] | 50.1% [43.8, 56.4] | 0.032 |' + ' ' * 10 + '\n')
    one(5, _md(squeezed), expect="column 'multi-crop [95% CI]' needs 19 characters but gets 18")
    one(5, _md(TABLE + '\n$$a = b \\tag{5}\\qquad c = d \\tag{6}$$\n'), expect='2 equation numbers')
    one(6, _data('image/png', _png(2135, 200)), expect='a figure 2135 px wide')     # Table I's confusion matrices, 10.7 in
    one(6, _data('image/png', _png(600, 50)), expect='at 50 dpi')                   # narrow, but drawn at 50 dpi: 7 px text
    one(7, _out('model       top-1   interval        multi-crop   interval        McNemar p   weights    precision\n', id='txt'),
        expect='printed table')
    one(None, _out('\r', id='cleared'), expect='empty stdout output')
    one(None, _out('\x1b[2Kdone\n', id='esc'), expect='terminal escape')
    one(None, _data('text/plain', ["{'device': 'cpu', 'platform': 'Linux-6.18.44-fc-v657-x86_64-with-glibc2.36'}"], id='p'),
        expect='platform string')

def test_the_escape_check_fails_on_a_committed_escape(tmp_path):
    d = tmp_path/'nbs'; d.mkdir()
    (d/'03_features.ipynb').write_text(json.dumps(_nb(GOOD)))
    assert escape_defects(d) == []
    (d/'03_features.ipynb').write_text(json.dumps(_nb(GOOD + [_out('\x1b[2K\r', id='w')])))
    found = escape_defects(d)
    assert len(found) == 1 and 'nbs/03_features.ipynb cell 8 (id w)' in found[0], found

# 3. Wide content: Quarto is not run here, so the rules that keep it in its box are checked in nbs/styles.css itself.
SCROLLS = ('.math.display', 'mjx-container[display="true"]', 'main table', '.cell-output-display', 'div.cell-output pre',
           'div.cell-output-stdout pre')
WRAPS = ('div.cell-output pre code', 'div.cell-output-stdout pre code', 'div.cell-output-stderr pre code')

def css_defects(css: str) -> list:
    "Display math and tables that would not scroll inside their own box, text outputs that would not wrap, in `css`."
    css = re.sub(r'/\*.*?\*/', '', css, flags=re.S)
    rules = {}
    for sels, body in re.findall(r'([^{}]+)\{([^{}]*)\}', css):
        for sel in sels.split(','): rules[sel.strip()] = rules.get(sel.strip(), '') + body.replace(' ', '') + ';'
    out = [f"nbs/styles.css: '{sel}' must scroll in its own box (overflow-x: auto; max-width: 100%)" for sel in SCROLLS
           if 'overflow-x:auto' not in rules.get(sel, '') or 'max-width:100%' not in rules.get(sel, '')]
    out += [f"nbs/styles.css: text outputs must wrap, so that no result line hides behind a scroll bar "
            f"('{sel} {{ white-space: pre-wrap; overflow-wrap: anywhere }}')" for sel in WRAPS
            if 'white-space:pre-wrap;' not in rules.get(sel, '') or 'overflow-wrap:anywhere;' not in rules.get(sel, '')]
    return out

def config_defects(text: str) -> list:
    "Options the course's figures and code need in the Quarto configuration `text` (_quarto.yml)."
    import yaml
    html = yaml.safe_load(text)['format']['html']
    out = [] if html.get('code-overflow') in ('wrap', 'scroll') else ["_quarto.yml: set format.html.code-overflow (wrap)"]
    if html.get('lightbox') not in (True, 'auto'):
        out.append("_quarto.yml: set format.html.lightbox: true, so that a click on a figure enlarges it")
    return out

def test_styles_keep_wide_content_in_its_box():
    assert css_defects((ROOT/'nbs'/'styles.css').read_text()) == []
    assert config_defects((ROOT/'_quarto.yml').read_text()) == []

def test_the_css_check_fails_without_its_rules():
    css = (ROOT/'nbs'/'styles.css').read_text()
    for sel in ('.math.display', 'main table', 'div.cell-output pre,'):
        broken = re.sub(re.escape(sel) + r'\s*', 'p.unrelated' + (',' if sel.endswith(',') else ' '), css)
        assert any(sel.rstrip(',') in d for d in css_defects(broken)), sel
    assert any('must wrap' in d for d in css_defects(css.replace('white-space: pre-wrap;', 'white-space: pre;')))
    assert any('must wrap' in d for d in css_defects(css.replace('overflow-wrap: anywhere;', '')))
    cfg = (ROOT/'_quarto.yml').read_text()
    assert any('lightbox' in d for d in config_defects(re.sub(r'\n\s*lightbox:[^\n]*', '', cfg)))
