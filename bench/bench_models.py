"""Forward+backward time per batch for each network, fp32 and bf16 autocast, on this machine's CPU (or a GPU).

Usage: python bench/bench_models.py [--batch 32] [--iters 3] [--warmup 1] [--device cpu] [--models Raw1DCNN Mel2DCNN ...]
Prints a table (milliseconds per batch: the best of the timed iterations, as timeit does, since other work on a shared
machine only ever adds time) and the bf16/fp32 ratio. Not a test: nothing is asserted.
"""
import argparse, os, platform, time
import torch
import torch.nn.functional as F
from mgr_course.config import CFG
from mgr_course.models import NETWORKS, count_weights


def bf16_support(device: torch.device) -> str:
    "Whether bf16 autocast runs natively here, in words."
    if device.type == 'cuda': return 'yes' if torch.cuda.is_bf16_supported() else 'no'
    flags = open('/proc/cpuinfo').read() if platform.system() == 'Linux' else ''
    native = [f for f in ('amx_bf16', 'avx512_bf16') if f in flags]
    return f"yes ({', '.join(native)})" if native else 'emulated (no avx512_bf16/amx_bf16: expect it to be slower)'


def step_time(net, xs, y, bf16: bool, device, iters: int, warmup: int) -> float:
    "Best seconds of one forward+backward (cross-entropy on logits) with autocast to bf16 or not."
    times = []
    for i in range(warmup + iters):
        net.zero_grad(set_to_none=True)
        if device.type == 'cuda': torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(net(*xs).float(), y)
        loss.backward()
        if device.type == 'cuda': torch.cuda.synchronize()
        if i >= warmup: times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--batch', type=int, default=32)   # the paper's batch size
    ap.add_argument('--iters', type=int, default=3)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--models', nargs='+', default=list(NETWORKS), choices=list(NETWORKS))
    a = ap.parse_args()
    device = torch.device(a.device)
    print(f"torch {torch.__version__} | device {device} | threads {torch.get_num_threads()} | "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()} | bf16: {bf16_support(device)}")
    if hasattr(os, 'getloadavg'): print(f"load average before: {os.getloadavg()[0]:.1f} (other processes slow every number down)")
    print(f"batch {a.batch}, best of {a.iters} timed iterations after {a.warmup} warm-up\n")
    print(f"{'network':<16}{'weights':>9}{'fp32 ms':>10}{'bf16 ms':>10}{'bf16/fp32':>11}")
    torch.manual_seed(0)
    for name in a.models:
        net = NETWORKS[name]().to(device).train()
        xs = [torch.randn(a.batch, *s, device=device) for s in net.input_shapes]
        y = torch.randint(0, CFG.n_classes, (a.batch,), device=device)
        fp32 = step_time(net, xs, y, False, device, a.iters, a.warmup)
        try: bf16 = step_time(net, xs, y, True, device, a.iters, a.warmup)
        except RuntimeError as e: bf16 = None; print(f"  ({name}: bf16 autocast failed: {e})")
        b = f"{1000 * bf16:>10.0f}{bf16 / fp32:>11.2f}" if bf16 else f"{'n/a':>10}{'':>11}"
        print(f"{name:<16}{count_weights(net):>9,}{1000 * fp32:>10.0f}{b}", flush=True)
        del net, xs


if __name__ == '__main__':
    main()
