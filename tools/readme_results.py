"""Write the README's results section from the committed results, so that the README never types a run's number.

Usage: python tools/readme_results.py [--check]
Replaces what lies between the two `<!-- results -->` markers of README.md with text built from results/*/results.json
(the default run, and the run with a longer budget if there is one). `--check` changes nothing and exits 1 when the README
is stale; tests/test_prose.py runs it. `make chapters` runs it after re-executing the chapters."""
import re, sys
from pathlib import Path
from mgr_course.experiment import (main_results, table1_markdown, findings, budget_markdown, replication_markdown,
                                   compare_budgets, times_line)

ROOT = Path(__file__).resolve().parents[1]
BEGIN = '<!-- results: written by tools/readme_results.py from results/*/results.json; do not edit by hand -->'
END = '<!-- /results -->'

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
    res, longer = main_results(ROOT/'results')
    if res is None: raise SystemExit("no results of the main job at the default budget in results/: run `make reproduce`")
    out = [BEGIN, '', _run_line(res), '', table1_markdown(res), '',
           "What these test clips support (McNemar's exact test against the Mel CNN on the same clips):", '', findings(res), '',
           times_line(res) + '.', '', _fma_estimate(res), '']
    if longer:
        t = compare_budgets(res, longer)
        nets = [n for n in t.index if res['rows'][n]['kind'] == 'network']
        by = {v: [n for n in nets if t.loc[n, 'verdict'] == v] for v in ('better', 'worse', 'not shown')}
        early = [f"{n} (step {longer['rows'][n]['train']['steps']} of {longer['rows'][n]['train']['max_steps']}, weights of epoch "
                 f"{longer['rows'][n]['train']['best_epoch']} kept)" for n in nets if longer['rows'][n]['train']['stopped_early']]
        out += ['#### Four times the budget', '', _run_line(longer), '', budget_markdown(res, longer), '',
                f"On the same test clips (McNemar p < 0.05 between the two runs), the longer budget made "
                + '; '.join(f"{', '.join(v)} {k if k != 'not shown' else 'not told apart from the default'}" for k, v in by.items() if v) + '. '
                + (f"Early stopping (patience {res['config']['patience']} epochs) ended {', '.join(early)}: over a longer cosine "
                   f"schedule the learning rate stays high for longer, and a network whose validation loss stops falling early keeps "
                   f"an early epoch's weights. " if early else '')
                + "Learning curves of both runs: `results/*/learning_curves.png`.", '']
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
