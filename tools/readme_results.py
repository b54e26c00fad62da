"""Write the README's results section from the committed results, so that the README never types a run's number.

Usage: python tools/readme_results.py [--check]
Replaces what lies between the two `<!-- results -->` markers of README.md with text built from results/*/results.json
(the default run, and the run with a longer budget if there is one). `--check` changes nothing and exits 1 when the README
is stale; tests/test_prose.py runs it. `make chapters` runs it after re-executing the chapters."""
import re, sys
from pathlib import Path
from mgr_course.experiment import (find_results, load_results, table1_markdown, findings, budget_markdown, replication_markdown,
                                   compare_budgets, times_line)

ROOT = Path(__file__).resolve().parents[1]
BEGIN = '<!-- results: written by tools/readme_results.py from results/*/results.json; do not edit by hand -->'
END = '<!-- /results -->'

def runs(folder=ROOT/'results'):
    "The default run and the one with a longer budget (None if absent)."
    found = [load_results(p) for p in sorted(find_results(folder))]
    default = next(r for r in found if r['budget']['steps'] is None and r['budget']['epochs'] is None)
    return default, next((r for r in found if r is not default and r['dataset'] == default['dataset']), None)

def _run_line(res) -> str:
    m, c = res['machine'], res['config']
    steps = {n: r['train']['max_steps'] for n, r in res['rows'].items() if r['kind'] == 'network'}
    return (f"`{res['command']}` on `{res['dataset_root']}` ({res['clips']['training']} training, {res['clips']['validation']} validation and "
            f"{res['clips']['test']} test clips, {len(c['genres'])} genres): " + ', '.join(f"{n} {s} steps" for n, s in steps.items()) +
            f" of batch {c['batch_size']}; {res['wall_seconds'] / 60:.1f} min on {m['cpu']} ({m['cores']} cores, {m['precision']}, torch {m['torch']}).")

def _fma_estimate(res) -> str:
    "The paper's budget on FMA small at this run's seconds per step (validation included): 20 epochs of 6,400 / 32 = 200 steps, the CRNN 10."
    per = {n: r['train']['fit_seconds'] / r['train']['steps'] for n, r in res['rows'].items() if r['kind'] == 'network'}
    steps = {n: res['config']['paper_epochs'] * (6400 // res['config']['batch_size']) * (0.5 if n == 'LateFusionCRNN' else 1) for n in per}
    hours = sum(per[n] * steps[n] for n in per) / 3600
    return (f"Seconds per optimizer step in this run (validation included): " + ', '.join(f"{n} {per[n]:.2f}" for n in per) +
            f". At those rates the paper's budget on FMA small (20 epochs of 200 steps; the CRNN 10) is about {hours:.1f} h of training "
            f"on this machine, after the one-time decode and augmentation caches.")

def section() -> str:
    res, longer = runs()
    out = [BEGIN, '', _run_line(res), '', table1_markdown(res), '',
           "What these test clips support (McNemar's exact test against the Mel CNN on the same clips):", '', findings(res), '',
           times_line(res) + '.', '', _fma_estimate(res), '']
    if longer:
        t = compare_budgets(res, longer)
        nets = [n for n in t.index if res['rows'][n]['kind'] == 'network']
        better = [n for n in nets if t.loc[n, 'verdict'] == 'better']
        out += ['#### Four times the budget', '', _run_line(longer), '', budget_markdown(res, longer), '',
                f"A longer budget improved {', '.join(better) if better else 'none'} of the {len(nets)} networks on these test clips "
                f"(McNemar p < 0.05 between the two runs); the others were not told apart. Learning curves of both runs: "
                f"`results/*/learning_curves.png`.", '']
    out += ['#### What replicated, and what did not', '', replication_markdown(res, longer), '', END]
    return '\n'.join(out)

def updated(text: str) -> str:
    if BEGIN not in text or END not in text: raise SystemExit(f"README.md has no {BEGIN} ... {END} block")
    return re.sub(re.escape(BEGIN) + '.*?' + re.escape(END), lambda _: section(), text, flags=re.S)

if __name__ == '__main__':
    readme = ROOT/'README.md'
    text = readme.read_text(); new = updated(text)
    if '--check' in sys.argv:
        if new != text: sys.exit("README.md's results section is stale: run `python tools/readme_results.py` (or `make chapters`)")
    elif new != text: readme.write_text(new); print("README.md: results section rewritten")
