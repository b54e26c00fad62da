"""Training throughput of every registered network: the trainer's settings on this device against a plain fp32 reference, and fed by the real input pipeline.

Usage: python bench/bench_training.py [--json] [--batch 32] [--steps N] [--threads 2] [--device cpu] [--networks ...] [--compile-check]

For each network, one training step is forward + backward + Adam on a ready batch of waveform crops [batch, 1, 2**18]
(the features are computed inside the model, as in training). Two versions are timed:
- compute: what the trainer uses here: autocast to `autocast_dtype(device)`, channels-last for the 2D convolutions, the strided
  1D convolutions of today's networks;
- reference: the same network in plain fp32 and contiguous memory, with the paper-literal stride-1 1D convolutions;
- pipeline: the trainer's version fed by the real training input pipeline on the default dataset (`learner.training_loaders`:
  clips decoded once, the augmentation bank, a random crop of a view and Gaussian noise per step), batch assembly included;
  efficiency = pipeline / compute. The first run builds the default dataset and its caches (minutes); later runs reuse them.
samples/s is the batch size over the median step time (a shared machine only ever adds time; the median ignores the
odd slow step); the two versions take their steps in turn, so that a burst of other work slows both alike. Not a test: nothing is asserted; numbers on a machine shared with other work are noisy.
"""
import argparse, json, os, platform, statistics, time
import torch
import torch.nn.functional as F
from mgr_course.config import CFG, autocast_dtype, cpu_has_native_bf16, cpu_model, default_device
from mgr_course.models import NETWORKS, network_names, build_model, GenreClassifier, Raw1DCNN, LateFusionCRNN
from mgr_course.data import clip_table
from mgr_course.learner import training_loaders

PAPER_LITERAL = {'Raw1DCNN': lambda cfg: Raw1DCNN(cfg=cfg, stride=1, pools=(8, 8, 8, 4)),
                 'LateFusionCRNN': lambda cfg: LateFusionCRNN(cfg=cfg, raw_stride=1, raw_pools=(8, 8, 8, 4))}


def uses_channels_last(name: str) -> bool:
    "The trainer's choice: channels-last for every network with 2D convolutions (the 2D CNNs and the CRNN's MFCC branch)."
    return NETWORKS[name].input in ('mel', 'mfcc', 'raw+mfcc')


def reference_model(name: str, cfg=CFG) -> GenreClassifier:
    "The network as the reference: today's layers, but the paper-literal stride-1 1D convolutions where it strides."
    model = build_model(name, cfg)
    if name in PAPER_LITERAL: model.net = PAPER_LITERAL[name](cfg)
    return model


def fixed_batch(batch: int, device, seed: int = 0, cfg=CFG):
    "A ready batch: waveform crops [batch, 1, crop_samples] (music-like loudness) and labels."
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 1, cfg.crop_samples, generator=g) * 0.1
    y = torch.randint(0, cfg.n_classes, (batch,), generator=g)
    return x.to(device), y.to(device)


def _sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()


def batches(loader):
    "The loader's batches (x, y) forever, moving to the next epoch at each pass, as training does."
    epoch = 0
    while True:
        loader.set_epoch(epoch)
        for b in loader: yield b[0], b[1]
        epoch += 1


def measure_compute(model: GenreClassifier, batch, steps: int, precision: torch.dtype | None = None,
                    channels_last: bool = False, warmup: int = 1, device=None) -> float:
    "Samples per second of training steps (forward + backward + Adam): on the ready `batch` (x, y), or on the next batch of an iterator of batches (the time to get it included)."
    device = device or (batch[0].device if isinstance(batch, tuple) else default_device())
    model = model.to(device).train()
    if channels_last: model.channels_last()
    opt = torch.optim.Adam(model.parameters(), lr=CFG.lr)
    times = []
    for i in range(warmup + steps):
        _sync(device); t0 = time.perf_counter()
        x, y = batch if isinstance(batch, tuple) else [t.to(device, non_blocking=True) for t in next(batch)]
        with torch.autocast(device.type, dtype=precision or torch.float32, enabled=precision is not None):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        _sync(device)
        if i >= warmup: times.append(time.perf_counter() - t0)
    return len(x) / statistics.median(times)


def loss_difference(model: GenreClassifier, batch, precision: torch.dtype | None) -> float:
    "Relative difference between the loss under autocast to `precision` and in fp32, on `batch`, in eval mode (no dropout)."
    x, y = batch
    model = model.to(x.device).eval()
    with torch.no_grad():
        ref = F.cross_entropy(model(x).float(), y).item()
        if precision is None: return 0.0
        with torch.autocast(x.device.type, dtype=precision):
            low = F.cross_entropy(model(x).float(), y).item()
    return abs(low - ref) / abs(ref)


def measure_network(name: str, batch, steps: int, precision, loader=None, seed: int = 0) -> dict:
    "One row: the trainer's settings on a ready batch, the same fed by `loader`, and the plain fp32 reference, timed step by step in turn (so that load from other work hits all alike)."
    torch.manual_seed(seed); fast_model = build_model(name)
    torch.manual_seed(seed); pipe_model = build_model(name)
    torch.manual_seed(seed); ref_model = reference_model(name)
    fast, pipe, ref, device = [], [], [], batch[0].device
    feed = batches(loader) if loader is not None else None
    for i in range(steps):
        fast.append(measure_compute(fast_model, batch, 1, precision, uses_channels_last(name), warmup=int(i == 0)))
        if feed is not None: pipe.append(measure_compute(pipe_model, feed, 1, precision, uses_channels_last(name), warmup=int(i == 0), device=device))
        ref.append(measure_compute(ref_model, batch, 1, warmup=int(i == 0)))
    fast, ref = statistics.median(fast), statistics.median(ref)
    row = dict(network=name, compute_samples_per_s=round(fast, 2))
    if pipe: row.update(pipeline_samples_per_s=round(statistics.median(pipe), 2), efficiency=round(statistics.median(pipe) / fast, 2))
    torch.manual_seed(seed)
    return dict(row, reference_samples_per_s=round(ref, 2), speedup_vs_reference=round(fast / ref, 2),
                loss_rel_diff=loss_difference(build_model(name), batch, precision))


def compile_check(batch, precision, steps: int, name: str = 'Mel2DCNN') -> dict:
    "Does torch.compile pay for `name`: compile time (the first step) against the per-step gain over eager."
    torch.manual_seed(0)
    eager = measure_compute(build_model(name), batch, steps, precision, uses_channels_last(name))
    torch.manual_seed(0)
    model = build_model(name).to(batch[0].device)
    if uses_channels_last(name): model.channels_last()
    compiled = torch.compile(model)
    t0 = time.perf_counter()
    fast = measure_compute(compiled, batch, steps, precision, warmup=1)   # the warm-up step compiles (forward and backward)
    total = time.perf_counter() - t0
    step_eager, step_compiled = len(batch[0]) / eager, len(batch[0]) / fast
    compile_s = total - (steps + 1) * step_compiled
    gain = step_eager - step_compiled
    return dict(network=name, eager_step_s=round(step_eager, 3), compiled_step_s=round(step_compiled, 3), compile_s=round(compile_s, 1),
                break_even_steps=round(compile_s / gain) if gain > 0 else None)


def environment(device, precision) -> dict:
    return dict(machine=f"{platform.node()} ({platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads)",
                cpu_model=cpu_model(), bf16_native=cpu_has_native_bf16(), torch=torch.__version__, device=str(device),
                precision=str(precision).replace('torch.', '') if precision is not None else 'fp32')


def print_table(env: dict, rows: list, batch: int, steps: int):
    print(f"{env['machine']}\nCPU: {env['cpu_model']} | native bf16: {env['bf16_native']} | torch {env['torch']} | "
          f"device {env['device']} | trainer precision {env['precision']}")
    if hasattr(os, 'getloadavg'): print(f"load average: {os.getloadavg()[0]:.1f} (other work on the machine slows every number down)")
    print(f"batch {batch}, median of {steps} timed steps after 1 warm-up; reference: fp32, contiguous, stride-1 1D convolutions; "
          f"pipeline: the training input pipeline on the default dataset\n")
    cols = [c for c in rows[0] if c != 'network']
    print(f"{'network':<16}" + ''.join(f"{c:>26}" for c in cols))
    for r in rows:
        print(f"{r['network']:<16}" + ''.join(f"{r[c]:>26.3g}" if isinstance(r[c], float) else f"{str(r[c]):>26}" for c in cols))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--json', action='store_true', help='print one JSON object instead of the table')
    ap.add_argument('--batch', type=int, default=CFG.batch_size)
    ap.add_argument('--steps', type=int, default=3, help='timed steps per version (after one warm-up)')
    ap.add_argument('--threads', type=int, default=2, help='torch CPU threads (the course machines have 2 cores)')
    ap.add_argument('--device', default=None, help='default: mgr_course.config.default_device()')
    ap.add_argument('--networks', nargs='+', default=list(network_names()), choices=list(network_names()))
    ap.add_argument('--compile-check', action='store_true', help='only: does torch.compile pay on Mel2DCNN')
    ap.add_argument('--no-pipeline', action='store_true', help='skip the input-pipeline measurement (no dataset needed)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    device = torch.device(a.device) if a.device else default_device()
    precision = autocast_dtype(device)
    batch = fixed_batch(a.batch, device)
    env = environment(device, precision)
    if a.compile_check:
        out = dict(env, compile=compile_check(batch, precision, a.steps))
        print(json.dumps(out, indent=1)); return
    loader = None
    if not a.no_pipeline:
        cfg = CFG.replace(batch_size=a.batch)
        loader = training_loaders(clip_table(cfg, progress=not a.json), cfg, progress=not a.json)[0]
    rows = [measure_network(name, batch, a.steps, precision, loader) for name in a.networks]
    if a.json: print(json.dumps(dict(env, networks=rows), indent=1))
    else: print_table(env, rows, a.batch, a.steps)


if __name__ == '__main__':
    main()
