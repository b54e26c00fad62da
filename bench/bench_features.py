"""Speed of the input pipeline: batched torch features vs per-clip librosa, and decode + crop + augment + features per clip.

Prints clips per second and ratios; nothing is asserted (the machine may be shared). Run from the repository root:
    .venv/bin/python bench/bench_features.py [--batch 32] [--repeats 3] [--threads N]
"""
import argparse, os, time, warnings
import numpy as np
import torch
import librosa
from mgr_course.config import CFG
from mgr_course.data import clip_table, load_audio, center_crop_offset
from mgr_course.features import LogMelSpectrogram, MFCC, RawAudio
from mgr_course.datasets import CropDataset, MelSpectrogramDataset, make_loader, default_workers

warnings.filterwarnings('ignore', message='.*(Empty filters|all zero values).*')

def best_of(f, repeats):
    "The fastest of `repeats` runs of f(), in seconds (the least disturbed by other work on the machine)."
    f()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); f(); times.append(time.perf_counter() - t0)
    return min(times)

def best_of_pair(f, g, repeats):
    "Fastest times of f and g, measured alternately so that both see the same load on a shared machine."
    f(); g(); tf, tg = [], []
    for _ in range(repeats):
        t0 = time.perf_counter(); f(); tf.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); g(); tg.append(time.perf_counter() - t0)
    return min(tf), min(tg)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--batch', type=int, default=32); ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--threads', type=int, default=None, help='threads for both sides (torch, and numpy/BLAS via threadpoolctl); default: libraries\' defaults')
    ap.add_argument('--pipeline-items', type=int, default=32)
    ap.add_argument('--device', default='cpu', help="where our modules run, e.g. 'cuda' (librosa always runs on the CPU)")
    a = ap.parse_args()
    if a.threads:
        from threadpoolctl import threadpool_limits
        torch.set_num_threads(a.threads); threadpool_limits(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, {os.cpu_count()} CPU cores; librosa {librosa.__version__}")
    clips = clip_table(CFG, progress=False)
    rows = clips[clips.split == 'training'].head(a.batch)
    crops = np.stack([load_audio(p, CFG.sample_rate, offset=center_crop_offset(n, CFG.crop_samples), frames=CFG.crop_samples)
                      for p, n in zip(rows.path, rows.samples)])
    if len(crops) < a.batch: crops = np.resize(crops, (a.batch, CFG.crop_samples))
    B = len(crops); dev = torch.device(a.device); x = torch.from_numpy(crops)[:, None].to(dev)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == 'cuda' else (lambda: None)
    sr = CFG.sample_rate
    mel_kw = dict(sr=sr, n_fft=CFG.n_fft, hop_length=CFG.hop_length, n_mels=CFG.n_mels, htk=False, norm='slaney', pad_mode='reflect')
    mfcc_kw = {**{k: v for k, v in mel_kw.items() if k != 'norm'}, 'mel_norm': 'slaney'}   # librosa's mfcc: norm is the DCT's, top_db 80
    # same settings both sides: Slaney scale (librosa has no paper scale; the scale does not change the cost), all 513 frames
    ours_mel = LogMelSpectrogram(scale='slaney', drop_last=False).to(dev)
    ours_mfcc = MFCC(scale='slaney', drop_last=False).to(dev)
    ours_raw = RawAudio().to(dev)
    cases = [
        ('log-mel', lambda: (ours_mel(x), sync()), lambda: [librosa.power_to_db(librosa.feature.melspectrogram(y=y, **mel_kw), top_db=CFG.top_db) for y in crops]),
        ('MFCC', lambda: (ours_mfcc(x), sync()), lambda: [librosa.feature.mfcc(y=y, n_mfcc=CFG.n_mfcc, **mfcc_kw) for y in crops]),
        ('raw 22.05 kHz', lambda: (ours_raw(x), sync()), lambda: [librosa.resample(y, orig_sr=sr, target_sr=CFG.raw_sample_rate) for y in crops]),
    ]
    print(f"\nfeatures of a batch of {B} crops of {CFG.crop_samples} samples, ours on {dev} (best of {a.repeats}):")
    print(f"{'feature':15s} {'ours (batched torch)':>22s} {'librosa (per clip)':>20s} {'ratio':>7s}")
    with torch.no_grad():
        for name, ours, lib in cases:
            t_o, t_l = best_of_pair(ours, lib, a.repeats)
            print(f"{name:15s} {B / t_o:16.1f} clips/s {B / t_l:14.1f} clips/s {t_l / t_o:6.2f}x")
    # the whole input pipeline, per item, as the loader's workers do it
    n = min(a.pipeline_items, len(clips[clips.split == 'training']))
    valid, train = CropDataset(clips, 'training', train=False), CropDataset(clips, 'training')
    mel_train = MelSpectrogramDataset(clips, 'training')
    threads = torch.get_num_threads(); torch.set_num_threads(1)     # as in a loader worker
    print(f"\nthe input pipeline per item ({n} training clips, one process with one torch thread like a loader worker, best of {a.repeats}):")
    for name, f in [('decode + centre crop', lambda: [valid.crop(i) for i in range(n)]),
                    ('decode + random crop + augment', lambda: [train.crop(i) for i in range(n)]),
                    ('... + log-mel (a full Mel2DCNN training item)', lambda: [mel_train[i] for i in range(n)])]:
        t = best_of(f, a.repeats)
        print(f"{name:48s} {t / n * 1000:7.1f} ms/clip {n / t:7.1f} clips/s")
    torch.set_num_threads(threads)
    w = default_workers()
    loader = make_loader(mel_train, batch_size=CFG.batch_size, num_workers=w)
    t0 = time.perf_counter(); got = sum(len(b.y) for b in loader); t = time.perf_counter() - t0
    print(f"make_loader over MelSpectrogramDataset('training'), {w} workers: {got / t:.1f} clips/s "
          f"({got} clips in {t:.1f} s, worker start-up included); FMA small's 6,400 training clips: ~{6400 / (got / t) / 60:.1f} min per epoch")

if __name__ == '__main__': main()
