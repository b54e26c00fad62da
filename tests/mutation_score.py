"""Score of the last `make mutants` run per module, from mutmut's records in mutants/ (not a test: pytest does not collect it).

    .venv/bin/python tests/mutation_score.py metrics ensemble      # one line per module; --survivors lists what survived

A mutant is killed when a test failed or timed out with it in place. mutmut 3 also rewrites docstrings (`"XX...XX"`, upper and
lower case): those change no behaviour, so they are counted apart as equivalent and left out of the score."""
import difflib, json, re, sys
from pathlib import Path

MUTANTS = Path(__file__).resolve().parents[1]/'mutants'/'mgr_course'

def variants(module: str) -> dict:
    "Each function's source in mutants/, by name: x_f__mutmut_orig and every x_f__mutmut_N."
    src = (MUTANTS/f'{module}.py').read_text()
    pattern = r'\n[ \t]*def ((?:x_|x\u01c1)\S+?__mutmut_(?:orig|\d+))\(.*?(?=\n[ \t]*def |\n[^\s#]|\Z)'   # functions and methods
    return {m.group(1): m.group(0) for m in re.finditer(pattern, src, re.S)}

def changed_lines(funcs: dict, key: str) -> list[str]:
    name = key.rsplit('.', 1)[-1]
    a, b = funcs.get(name.rsplit('__mutmut_', 1)[0] + '__mutmut_orig', ''), funcs.get(name, '')
    return [l for l in difflib.unified_diff(a.splitlines()[2:], b.splitlines()[2:], lineterm='', n=0)
            if l[:1] in '+-' and l[:3] not in ('---', '+++')]

def is_docstring(diff: list[str]) -> bool:
    "Only the function's one-line docstring changed."
    return len(diff) == 2 and all(re.fullmatch(r'[+-]\s+"[^"]*"', l) for l in diff)

def score(module: str, show: bool = False) -> str:
    meta = MUTANTS/f'{module}.py.meta'
    if not meta.exists(): return f'{module}: not measured'
    codes = {k: v for k, v in json.loads(meta.read_text())['exit_code_by_key'].items() if v is not None}
    if not codes: return f'{module}: not measured'
    funcs = variants(module)
    doc = {k for k in codes if is_docstring(changed_lines(funcs, k))}
    real = {k: v for k, v in codes.items() if k not in doc}
    survived = sorted(k for k, v in real.items() if v in (0, 33))       # 0: every test passed; 33: no test reached it
    killed = len(real) - len(survived)
    if show:
        for k in survived: print(k, *changed_lines(funcs, k), sep='\n    ')
    return (f'{module}: {killed}/{len(real)} killed = {killed / max(1, len(real)):.0%} '
            f'({len(survived)} survived; {len(doc)} docstring-only mutants left out)')

if __name__ == '__main__':
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    for m in args or ['metrics', 'evaluation', 'ensemble', 'baseline', 'features', 'predict', 'config']:
        print(score(m, '--survivors' in sys.argv))
