"""Write the README's results section from the committed results, so that the README never types a run's number.

Usage: python tools/readme_results.py [--check]
Replaces what lies between the two `<!-- results -->` markers of README.md with text built from results/*/results.json
(the default run, and the run with a longer budget if there is one). `--check` changes nothing and exits 1 when the README
is stale; tests/test_prose.py runs it. `make chapters` runs it after re-executing the chapters."""
import json, re, sys
from pathlib import Path
from mgr_course.config import FMA_SUBSETS
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

BENCH_BEGIN = '<!-- data path: written by tools/readme_results.py from results/bench/data-path.json; do not edit by hand -->'
BENCH_END = '<!-- /data path -->'

def _gb(b: float) -> str: return f"{b / 1e9:.1f} GB"

def bench_section() -> str:
    "The data path and the cost model, from the data-path benchmark's JSON."
    b = json.loads((ROOT/'results'/'bench'/'data-path.json').read_text())
    n, sp, c = b['clips'], b['splits'], b['cache_bytes']
    bank, dec = c.get('bank', 0), sum(v for k, v in c.items() if k.startswith('decoded'))
    rows = [('mp3 files (the dataset)', b['mp3_bytes']), ("augmentation bank (the training clips' views)", bank),
            ('decoded clips (validation and test)', dec), ('**caches in all** (`mgr cache --list`)', sum(c.values())),
            ('the int16 caches of the previous design', b['old_design_bytes'])]
    eff = ', '.join(f"{r['network']} {r['efficiency']:.2f}" for r in b['throughput'])
    slow = [r['network'] for r in b['throughput'] if r['efficiency'] < 0.8]
    aim = (f" The aim was 0.80 or more for every network; below it here: {', '.join(slow)}." if slow else
           " The aim was 0.80 or more for every network, and each reaches it here.")
    out = [BENCH_BEGIN, '', f"`{b['command']}` on a stand-in of FMA small's size ({n:,} clips of {b['clip_seconds']:g} s: "
           f"{sp.get('training', 0):,} training, {sp.get('validation', 0):,} validation, {sp.get('test', 0):,} test), {b['cpu']} "
           f"({b['cores']} cores), torch {b['torch']}, {b['date']} (load average {b['load_average']} at the end):", '',
           '| kept on disk | per clip | all clips |', '|---|---|---|']
    out += [f"| {what} | {v / n / 1e6:.2f} MB | {_gb(v)} |" for what, v in rows]
    out += ['', f"From the start of `mgr train` to its first optimizer step: {b['first_step_s'] / 60:.1f} min, of which the scan "
            f"{b['scan_s'] / 60:.1f} min; the first epoch builds the other shards as it reads them (built here at once by "
            f"`prepare_caches`, 2 processes: {b['filled_shards']:,} shards in {b['fill_s'] / 60:.1f} min). A batch of 32 training "
            f"crops is read from the caches in {b['batch_read_s'] * 1000:.0f} ms. Training throughput fed by these caches, as a share "
            f"of each network's speed on ready tensors (pipeline / compute samples per second): {eff}.{aim}", '', BENCH_END]
    return '\n'.join(out)

COST_BEGIN = '<!-- cost model: written by tools/readme_results.py from results/bench/data-path.json; do not edit by hand -->'
COST_END = '<!-- /cost model -->'

def cost_section() -> str:
    "What the paper's budget costs on each FMA subset, scaled from the benchmark's per-clip and per-step measurements."
    b = json.loads((ROOT/'results'/'bench'/'data-path.json').read_text())
    per_clip = sum(b['cache_bytes'].values()) / b['clips']
    build = (b['first_step_s'] + b['fill_s']) / b['clips']      # the scan (which now writes caches too) and every shard
    train_share = b['splits']['training'] / b['clips']
    step = {r['network']: 32 / r['pipeline_samples_per_s'] for r in b['throughput']}
    out = [COST_BEGIN, '', '| subset | clips | archive | caches | scan and caches, 2 cores | training, 2 cores | reading crops alone |',
           '|---|---|---|---|---|---|---|']
    for name, sub in FMA_SUBSETS.items():
        clips, gib = sub['clips'], sub['archive_gib']
        steps = {k: 20 * int(clips * train_share) // 32 * (0.5 if k == 'LateFusionCRNN' else 1) for k in step}
        train_h = sum(steps[k] * step[k] for k in step) / 3600
        read_h = sum(steps.values()) * b['batch_read_s'] / 3600
        out.append(f"| {name} | {clips:,} | {gib:g} GiB | {_gb(clips * per_clip)} | {clips * build / 3600:.1f} h | {train_h:.1f} h | {read_h:.1f} h |")
    out += ['', f"Scaled from the benchmark above ({b['cpu']}, {b['cores']} cores): caches at {per_clip / 1e6:.2f} MB and "
            f"{build * 1000:.0f} ms per clip to scan it and build its caches (from the start of `mgr train` until every cache is built); training at each network's measured seconds per step fed by the caches, "
            f"for the paper's budget (20 epochs of the {train_share:.0%} training clips in batches of 32; the late-fusion CRNN 10). "
            f"*Reading crops alone* is the CPU time of reading the batches from the caches with nothing else to do: the floor a "
            f"GPU step cannot go below while one process reads. **One GPU** (not measured: no GPU was lent to this project's runs): "
            f"the networks' arithmetic stops being the bottleneck, and the budget takes at least that last column, plus the scan and "
            f"the caches' building (CPU-bound). **N GPUs** with `torchrun --nproc-per-node N`: each process reads only its share of every batch, "
            f"so the reading floor divides by N as long as there are cores for the N readers; the caches are built once, shared "
            f"by every process; what grows is the all-reduce of the gradients at every step (a few hundred thousand weights: "
            f"small beside a batch of audio).", '', COST_END]
    return '\n'.join(out)

def updated(text: str) -> str:
    for begin, end, make in ((BEGIN, END, section), (BENCH_BEGIN, BENCH_END, bench_section), (COST_BEGIN, COST_END, cost_section)):
        if begin not in text or end not in text: raise SystemExit(f"README.md has no {begin} ... {end} block")
        text = re.sub(re.escape(begin) + '.*?' + re.escape(end), lambda _: make(), text, flags=re.S)
    return text

if __name__ == '__main__':
    readme = ROOT/'README.md'
    text = readme.read_text(); new = updated(text)
    if '--check' in sys.argv:
        if new != text: sys.exit("README.md's results section is stale: run `python tools/readme_results.py` (or `make chapters`)")
    elif new != text: readme.write_text(new); print("README.md: results section rewritten")
