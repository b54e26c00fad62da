"""Evaluation (chapter 07a) against answers computed here with NumPy: which crops a clip gives, how they are batched, on which
device and precision, and what the results row holds. Written against the mutants `make mutants` left alive in
`mgr_course/evaluation.py` (README, "Mutation testing"); each test names the mutations it catches."""
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from torch import nn
import mgr_course.evaluation as evaluation
from mgr_course.config import CFG
from mgr_course.datasets import Batch
from mgr_course.evaluation import crop_probabilities, predict_clips, evaluate, metrics_row, collate_clips

SR, CROP, SAMPLES = CFG.sample_rate, 10_000, 35_000     # three whole crops per clip, 2,500 samples left over on each side
CFG_SMALL = CFG.replace(crop_samples=CROP)              # CFG's own crop (2**18 samples) is longer than these clips
K = CFG.n_classes


class Probe(nn.Module):
    "Logits = 10 x the first K samples of each crop; records the size, device and autocast state of every batch it sees."
    def __init__(self, on_cpu: bool = False):
        super().__init__()
        self.w, self.on_cpu, self.sizes, self.devices, self.autocast = nn.Parameter(torch.ones(1)), on_cpu, [], set(), set()
    def forward(self, x):
        self.sizes.append(len(x)); self.devices.add(x.device.type)
        self.autocast.add((torch.is_autocast_enabled('cpu'), torch.get_autocast_dtype('cpu')))
        if self.on_cpu: return torch.zeros(len(x), K)        # the answer on the CPU, whatever device the crops were sent to
        return 10 * x[:, 0, :K].float()


@pytest.fixture(scope='module')
def table(tmp_path_factory):
    "Twelve test clips and two validation clips of seeded noise, 35,000 samples each at the course's rate: (clips, audio)."
    d, rng, rows, audio = tmp_path_factory.mktemp('clips'), np.random.default_rng(0), [], {}
    for i in range(14):
        y = rng.uniform(-0.5, 0.5, SAMPLES).astype(np.float32)
        sf.write(d/f'{i}.wav', y, SR, subtype='FLOAT')
        rows.append(dict(genre=CFG.genres[i % K], label=i % K, split='test' if i < 12 else 'validation', path=str(d/f'{i}.wav'), samples=SAMPLES))
        audio[500 + i] = y
    return pd.DataFrame(rows, index=pd.Index(range(500, 514), name='track_id')), audio


@pytest.fixture(autouse=True)
def fp32_and_own_cache(tmp_path, monkeypatch):
    "Plain float32 (this CPU might autocast to bf16) and a cache folder of the test's own."
    monkeypatch.setenv('MGR_PRECISION', 'fp32'); monkeypatch.setenv('MGR_DATA', str(tmp_path))


def softmax(z): e = np.exp(z - z.max(-1, keepdims=True)); return e / e.sum(-1, keepdims=True)

def by_hand(y, crops):
    "The probabilities Probe gives a clip, from the samples: the centre crop, or every whole crop (centred as a group) averaged."
    k = SAMPLES // CROP
    starts = [(SAMPLES - CROP) // 2] if crops == 'center' else [(SAMPLES - k * CROP) // 2 + i * CROP for i in range(k)]
    assert starts == ([12_500] if crops == 'center' else [2_500, 12_500, 22_500])   # the arithmetic above, done by hand
    return np.mean([softmax(10 * y[s:s + K].astype(np.float64)) for s in starts], axis=0)


@pytest.mark.parametrize('crops', ['center', 'all'])
def test_known_probabilities_of_each_crop_mode(table, crops):
    "Catches ClipCrops called without `crops` (every clip scored by its centre crop), the config not reaching the decoder, and"
    " the split's name dropped from the output."
    clips, audio = table
    out = predict_clips(Probe(), clips, 'test', CFG_SMALL, crops, device='cpu', progress=False)
    want = np.stack([by_hand(audio[t], crops) for t in clips.index[:12]])
    np.testing.assert_allclose(out['probs'], want, atol=1e-4)
    assert out['probs'].dtype == np.float32 and (out['split'], out['crops'], out['skipped']) == ('test', crops, 0)
    np.testing.assert_array_equal(out['labels'], clips.label[:12]); np.testing.assert_array_equal(out['track_ids'], clips.index[:12])
    r = evaluate(Probe(), clips, 'test', CFG_SMALL, crops, device='cpu', progress=False)   # evaluate hands its cfg on too
    np.testing.assert_allclose(r['probs'], want, atol=1e-4)
    assert r['top1_accuracy'] == np.mean(want.argmax(1) == clips.label[:12].to_numpy())
    np.testing.assert_array_equal(r['correct'], want.argmax(1) == clips.label[:12].to_numpy())


def test_defaults_are_the_test_split_and_the_centre_crop(table, monkeypatch):
    "Catches a changed default split or crop mode of predict_clips and evaluate (the CLI's `mgr evaluate` relies on them)."
    clips, audio = table
    monkeypatch.setattr(evaluation, 'CFG', CFG_SMALL)
    out = predict_clips(Probe(), clips, progress=False, device='cpu')
    r = evaluate(Probe(), clips, progress=False, device='cpu')
    for o in (out, r):
        assert (o['split'], o['crops']) == ('test', 'center')
        np.testing.assert_allclose(o['probs'], np.stack([by_hand(audio[t], 'center') for t in clips.index[:12]]), atol=1e-4)


@pytest.mark.parametrize('crops, batch_size, sizes', [
    ('center', 10, [10, 2]),           # 10 clips a batch, one model call each (not CFG's 8, not the DataLoader's default 1)
    ('all', 8, [6] * 6),               # a quarter of the batch size in clips (2), three crops each
    ('all', 4, [3] * 12),              # at least one clip, and one only for batch sizes 4 to 7
    ('all', 12, [9] * 4),              # 3 clips of 3 crops (bs // 5 would give 2)
])
def test_batches_the_model_sees(table, crops, batch_size, sizes):
    "Catches the batch size not reaching the loader or the crop average, and the all-crops loader's clip count changed"
    " (`max(2, bs // 4)`, `bs // 5`, the centre's batch size for all crops or the reverse); memory depends on it."
    clips, _ = table
    model = Probe()
    predict_clips(model, clips, 'test', CFG_SMALL, crops, batch_size=batch_size, device='cpu', progress=False)
    assert model.sizes == sizes
    model = Probe()
    evaluate(model, clips, 'test', CFG_SMALL, crops, batch_size=batch_size, device='cpu', progress=False)   # evaluate passes **kw on
    assert model.sizes == sizes


def test_model_and_crops_go_to_the_device(table, monkeypatch):
    "Catches `device` ignored (given, or the default_device() used without one) and crops left where they are: on a 'meta'"
    " device the model's parameters and the crops it sees must both be on it."
    clips, _ = table
    model = Probe(on_cpu=True)
    predict_clips(model, clips, 'test', CFG_SMALL, device='meta', progress=False)
    assert model.w.device.type == 'meta' and model.devices == {'meta'}
    model = Probe(on_cpu=True)
    monkeypatch.setattr(evaluation, 'default_device', lambda: torch.device('meta'))
    predict_clips(model, clips, 'test', CFG_SMALL, progress=False)
    assert model.w.device.type == 'meta' and model.devices == {'meta'}
    model = Probe(on_cpu=True)
    predict_clips(model, clips, 'test', CFG_SMALL, device=torch.device('cpu'), progress=False)
    assert model.w.device.type == 'cpu' and model.devices == {'cpu'}


@pytest.mark.parametrize('precision, seen', [('fp16', (True, torch.float16)), ('bf16', (True, torch.bfloat16)), ('fp32', (False, None))])
def test_autocast_follows_the_precision(table, monkeypatch, precision, seen):
    "Catches the autocast dtype dropped (CPU autocast's own default is bf16, so fp16 tells them apart) or autocast never on."
    clips, _ = table
    monkeypatch.setenv('MGR_PRECISION', precision)
    model = Probe()
    p = crop_probabilities(model, torch.randn(3, 1, 64))
    enabled, dtype = model.autocast.pop()
    assert enabled == seen[0] and (dtype == seen[1] or not enabled) and p.dtype == torch.float32


def test_a_decoded_table_handed_in_is_used_and_a_new_one_gets_cfg(table, monkeypatch):
    "Catches predict_clips decoding again when handed `decoded` (the slow part), and the cfg not reaching the decoder."
    clips, _ = table
    calls, real = [], evaluation.DecodedClips
    def spy(*a, **kw): calls.append((a, kw)); return real(*a, **kw)
    monkeypatch.setattr(evaluation, 'DecodedClips', spy)
    decoded = real(clips, CFG_SMALL)
    predict_clips(Probe(), clips, 'test', CFG_SMALL, decoded=decoded, device='cpu', progress=False)
    assert calls == []
    predict_clips(Probe(), clips, 'test', CFG_SMALL, device='cpu', progress=False)
    (a, kw), = calls
    assert a[1] is CFG_SMALL and kw == {}


def test_progress_bar_shown_by_default_and_silent_when_asked(table, capsys):
    "Catches the progress default flipped, `disable` inverted or left to tqdm (off where stderr is not a terminal), and the"
    " bar's description, unit or `leave=False` (cleared when done, as every bar of the course) changed."
    clips, _ = table
    decoded = evaluation.DecodedClips(clips, CFG_SMALL)
    capsys.readouterr()
    predict_clips(Probe(), clips, 'test', CFG_SMALL, 'all', device='cpu', progress=False, decoded=decoded)
    assert capsys.readouterr().err == ''
    predict_clips(Probe(), clips, 'test', CFG_SMALL, 'all', device='cpu', decoded=decoded)
    err = capsys.readouterr().err
    assert err.startswith('\rtest, all crops:   0%|') and '/6 [' in err and 'batch/s]' in err
    assert err.endswith('\r') and '\n' not in err                 # leave=False: the line is blanked, not kept


def test_collate_clips_shapes_counts_and_skipped():
    "Catches a clip given as [1, T] not lifted to [1, 1, T], the skipped count wrong (None, added instead of subtracted, lost"
    " on the centre-crop `Batch`), and the empty batch's tensors of the wrong kind."
    b = collate_clips([(torch.ones(1, 5), 3), None, (torch.zeros(2, 1, 5), 1)])
    assert b.x.shape == (3, 1, 5) and b.counts == [1, 2] and b.y.tolist() == [3, 1] and b.skipped == 1
    b = collate_clips(Batch(torch.zeros(4, 1, 5), torch.tensor([0, 1, 2, 3]), 2))
    assert b.counts == [1] * 4 and b.skipped == 2 and type(b.skipped) is int
    b = collate_clips([None])
    assert b.x.shape == (0,) and b.y.dtype == torch.long and b.y.shape == (0,) and b.skipped == 1


def test_error_messages_whole():
    "The messages a user reads, whole (a `match` on a fragment passes when the text around it is garbled)."
    with pytest.raises(ValueError, match=r'^no crops to average: a clip needs at least one crop$'): crop_probabilities(Probe(), iter([]))
    with pytest.raises(ValueError, match=r'^no predictions to score: every clip of the split was skipped \(see the warnings\) or the split is empty$'):
        metrics_row([], np.zeros((0, 4)))


def test_metrics_row_counts_classes_absent_from_probs():
    "With n_classes wider than the probabilities (genres a model never scores), the confusion matrix and the paper's metrics"
    " span n_classes: catches n_classes not reaching paper_metrics or confusion_matrix. By hand: 15 of 20 right over 4 classes."
    labels = np.array([0, 1, 2, 3] * 5)
    probs = np.eye(4)[labels]; probs[:5] = np.eye(4)[(labels[:5] + 1) % 4]
    r = metrics_row(labels, probs, n_classes=6)                                   # 6: neither the probabilities' 4 nor CFG's 8
    assert np.array(r['confusion']).shape == (6, 6) and r['top1_accuracy'] == 0.75
    assert r['one_vs_rest_accuracy'] == pytest.approx(1 - 2 * 5 / 20 / 6)        # each error: one FP and one FN, out of 6 classes
    assert r['macro_recall'] == pytest.approx(np.mean([3 / 5, 4 / 5, 4 / 5, 4 / 5, 0, 0]))
    assert metrics_row(labels, probs)['macro_recall'] == pytest.approx(np.mean([3 / 5, 4 / 5, 4 / 5, 4 / 5]))
