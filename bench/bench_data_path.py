"""The data path at FMA small's size: disk kept per clip, time from `mgr train` to the first optimizer step, time to build every
cache, and the training throughput it feeds, on a dataset in FMA's on-disk format (a stand-in of FMA small's size or FMA small).

Usage: python bench/bench_data_path.py DATASET [--data DIR] [--network Mel2DCNN] [--out results/bench/data-path.json] [--keep]

DATASET is a folder holding fma_metadata/ and fma_small/ (make a stand-in of FMA small's size, 8,000 clips of 30 s split
80/10/10, with `mgr generate --per-genre 1000 --seconds 30 --valid-fraction 0.1 --test-fraction 0.1`, about 3.7 GB).
DIR (default: a new folder beside DATASET) receives the caches; it must start empty, since the point is to time a cold
start; the dataset's scan cache is removed first for the same reason. Steps, each timed:
1. first step: what `mgr train NETWORK --data DATASET` does, from the start (scan included) to the end of its first
   optimizer step, the caches being built as the first batches are read;
2. fill: every other shard a run needs, built in parallel (`prepare_caches`);
3. a batch: the time to assemble one batch of training crops from the built caches (what a GPU would wait for per step);
4. throughput: `bench/bench_training.py`'s efficiency (pipeline / compute samples per second) of every network on this dataset.
Then the disk: bytes per clip of each kind of cache, against the mp3s and against what the int16 caches of the previous
design (one memory-mapped file per cache, built before the first step) would hold for the same clips. Writes one JSON
(the README's data-path section is generated from it by tools/readme_results.py) and prints a summary. Not a test: a
machine shared with other work makes every time longer.
"""
import argparse, json, os, shutil, sys, time, datetime
from pathlib import Path

def _shown(p: Path) -> str:
    "The dataset folder as the results show it: relative to here when inside, else `data/<name>` (where `mgr generate` puts it)."
    try: return str(p.relative_to(Path.cwd()))
    except ValueError: return f"data/{p.name}"

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('dataset', type=Path)
    ap.add_argument('--data', type=Path, default=None, help='an empty folder for the caches (default: DATASET-bench-data beside it)')
    ap.add_argument('--network', default='Mel2DCNN')
    ap.add_argument('--steps', type=int, default=16, help='timed steps per network for the throughput')
    ap.add_argument('--out', type=Path, default=Path('results/bench/data-path.json'))
    ap.add_argument('--keep', action='store_true', help='keep the caches afterwards (default: delete them)')
    a = ap.parse_args()
    dataset = a.dataset.expanduser().absolute()
    data = (a.data or dataset.parent/f'{dataset.name}-bench-data').expanduser().absolute()
    if data.exists() and any(data.iterdir()): raise SystemExit(f"{data} is not empty: the benchmark times a cold start; give an empty --data")
    os.environ.update(MGR_DATA=str(data), MGR_DATASET=str(dataset))      # before the library reads its config
    (dataset/'.scan-cache.csv').unlink(missing_ok=True)
    sys.path.insert(0, str(Path(__file__).parent))
    import torch
    from mgr_course.config import CFG, cpu_model, autocast_dtype, default_device
    from mgr_course.data import clip_table
    from mgr_course.learner import train_network, Callback, CancelFitException
    from mgr_course.models import network_names
    from mgr_course.cache import cache_usage
    from mgr_course.bank import prepare_caches, AugmentBank, DecodedClips, BankCrops, keep_decoded
    from mgr_course.learner import training_loaders
    from bench_training import measure_network, fixed_batch

    class FirstStep(Callback):
        "Stop the fit right after its first optimizer step, noting when it ended."
        def after_step(self, learn): self.t = time.perf_counter(); raise CancelFitException()

    t0 = time.perf_counter()
    clips = clip_table(CFG, keep=keep_decoded(CFG))                          # as `mgr train` scans: the scan's decode feeds the caches
    t_scan = time.perf_counter() - t0
    first = FirstStep()
    try: train_network(a.network, CFG, clips=clips, runs=data/'bench-runs', cbs=(first,))
    except Exception as e:                                                  # the run is cut after one step: saving it may complain
        if not hasattr(first, 't'): raise
    t_first = first.t - t0
    d0, b0 = DecodedClips(clips, CFG), None
    b0 = AugmentBank(d0, CFG.augment_views, cfg=CFG)
    filled = len(b0.shards.missing()) + sum(1 for i in d0.shards.missing() if d0.kept[i])
    t1 = time.perf_counter(); decoded, bank = prepare_caches(clips, CFG); t_fill = time.perf_counter() - t1
    crops = BankCrops(bank); idx = list(range(0, len(crops), max(1, len(crops) // 64)))[:CFG.batch_size]
    crops.__getitems__(idx)
    t2 = time.perf_counter(); [crops.__getitems__(idx) for _ in range(5)]; t_batch = (time.perf_counter() - t2) / 5
    usage = cache_usage().set_index('kind')
    n, splits = len(clips), clips.split.value_counts().to_dict()
    mp3 = sum(Path(p).stat().st_size for p in clips.path)
    old = int(clips.samples.sum()) * 2 + splits['training'] * CFG.augment_views * bank.length * 2     # int16 of every clip + the bank
    device = default_device(); precision = autocast_dtype(device)
    train_dl, _ = training_loaders(clips, CFG, progress=False)
    batch = fixed_batch(CFG.batch_size, device)
    rows = [measure_network(name, batch, a.steps, precision, loader=train_dl) for name in network_names()]
    res = dict(dataset=dataset.name, clips=n, splits=splits, clip_seconds=round(float(clips.samples.mean()) / CFG.sample_rate, 1),
               cpu=cpu_model(), cores=os.cpu_count(), torch=torch.__version__, load_average=round(os.getloadavg()[0], 1),
               date=datetime.date.today().isoformat(), command=f"python bench/bench_data_path.py {_shown(dataset)}",
               scan_s=round(t_scan, 1), first_step_s=round(t_first, 1), fill_s=round(t_fill, 1), filled_shards=filled,
               batch_read_s=round(t_batch, 4),
               cache_bytes={k: int(v) for k, v in usage.bytes.items()}, mp3_bytes=mp3, old_design_bytes=old,
               throughput=[{k: r[k] for k in ('network', 'compute_samples_per_s', 'pipeline_samples_per_s', 'efficiency')} for r in rows])
    a.out.parent.mkdir(parents=True, exist_ok=True); a.out.write_text(json.dumps(res, indent=1) + '\n')
    mb = lambda b: f"{b / n / 1e6:.2f} MB"
    print(f"{n} clips: scan {t_scan / 60:.1f} min; first optimizer step {t_first / 60:.1f} min after start; every other cache "
          f"{t_fill / 60:.1f} min more ({filled} shards); a batch of {CFG.batch_size} training crops read in {t_batch * 1000:.0f} ms\nkept per clip: caches {mb(usage.bytes.sum())} (" +
          ', '.join(f"{k} {mb(v)}" for k, v in usage.bytes.items()) + f"), mp3 {mb(mp3)}; the int16 design: {mb(old)}")
    for r in rows: print(f"  {r['network']:16s} efficiency {r['efficiency']:.2f}")
    print(f"-> {a.out}")
    if not a.keep: shutil.rmtree(data)

if __name__ == '__main__': main()
