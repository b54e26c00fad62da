"Evaluation (chapter 07a): what the chapter does not show: damaged clips, bad inputs to the crop average and the results row."
import numpy as np
import pytest
import torch
from torch import nn
from mgr_course.config import CFG
from mgr_course.evaluation import crop_probabilities, predict_clips, evaluate, metrics_row, collate_clips, CROPS
from mgr_course.models import build_model


@pytest.fixture(scope='module')
def clips():
    from mgr_course.data import clip_table
    return clip_table(progress=False)               # the small IN_TEST stand-in dataset (generated on first use)


class FirstSamples(nn.Module):
    "Logits = the first 4 samples of the crop: [B, 1, T] -> [B, 4]."
    def forward(self, x): return x[:, 0, :4]


def test_evaluate_center_and_all_crops(clips, tmp_path):
    torch.manual_seed(0)
    model = build_model('MFCC2DCNN')
    valid = clips[clips.split == 'validation']
    for crops in CROPS:
        r = evaluate(model, clips, 'validation', crops=crops, device='cpu', progress=False)
        assert r['n'] == len(valid) and r['skipped'] == 0 and r['confusion'].sum() == len(valid) and r['crops'] == crops
        assert 0 <= r['top1_accuracy'] <= 1 and r['one_vs_rest_accuracy'] == pytest.approx(1 - 2 * (1 - r['top1_accuracy']) / CFG.n_classes)
        assert r['top1_ci'][0] <= r['top1_accuracy'] <= r['top1_ci'][1] and r['mcnemar_p'] is None
        assert r['correct'].sum() == round(r['top1_accuracy'] * r['n'])
        np.testing.assert_array_equal(r['track_ids'], valid.index.to_numpy())
    # a damaged clip is skipped and counted, not fatal, and the warning names it
    bad = clips.copy()
    victim = bad.index[bad.split == 'validation'][0]
    (tmp_path/'bad.mp3').write_bytes(b'this is not an mp3' * 100)
    bad.loc[victim, 'path'] = str(tmp_path/'bad.mp3')
    with pytest.warns(RuntimeWarning, match=f'skipping track {victim}'):
        r = evaluate(model, bad, 'validation', crops='all', device='cpu', progress=False)
    assert r['skipped'] == 1 and r['n'] == len(valid) - 1 and victim not in r['track_ids']
    with pytest.raises(ValueError, match="'center' or 'all'"): evaluate(model, clips, 'validation', crops='some')


def test_all_crops_average_equals_per_crop_softmax(clips, monkeypatch):
    "The all-crops probabilities of a clip are the mean of the softmax of each of its crops, computed one by one (both in fp32)."
    from mgr_course.bank import DecodedClips, ClipCrops
    monkeypatch.setenv('MGR_PRECISION', 'fp32')
    torch.manual_seed(0)
    model = build_model('Mel2DCNN').eval()
    decoded = DecodedClips(clips)
    out = predict_clips(model, clips, 'test', crops='all', device='cpu', progress=False, decoded=decoded)
    x, y = ClipCrops(decoded, 'test', crops='all')[1]
    with torch.no_grad(): by_hand = torch.cat([model(c[None]).softmax(-1) for c in x]).mean(0)
    np.testing.assert_allclose(out['probs'][1], by_hand.numpy(), rtol=1e-4, atol=1e-6)
    assert out['labels'][1] == y


def test_crop_probabilities_bad_inputs():
    x = torch.randn(5, 1, 8)
    with pytest.raises(ValueError, match='no crops'): crop_probabilities(FirstSamples(), iter([]))
    with pytest.raises(ValueError, match='counts add up to 4 crops but more'): crop_probabilities(FirstSamples(), x, counts=[2, 2])
    with pytest.raises(ValueError, match='counts add up to 6'): crop_probabilities(FirstSamples(), x, counts=[3, 3])
    with pytest.raises(ValueError, match='clip 1 has no crop'): crop_probabilities(FirstSamples(), x, counts=[5, 0])
    p = crop_probabilities(FirstSamples(), x, counts=[1, 4], batch_size=2)
    assert p.shape == (2, 4) and torch.allclose(p.sum(1), torch.ones(2))


def test_collate_clips_all_undecodable():
    b = collate_clips([None, None])
    assert b.skipped == 2 and b.counts == [] and len(b.y) == 0


def test_metrics_row_fields_and_bad_inputs():
    labels = np.array([0, 1, 2, 3] * 5)
    probs = np.eye(4)[labels]; probs[:5] = np.eye(4)[(labels[:5] + 1) % 4]         # 15 of 20 right
    r = metrics_row(labels, probs)
    assert r['top1_accuracy'] == 0.75 and r['n'] == 20 and r['mcnemar_p'] is None
    lo, hi = r['top1_ci']; assert 0.5 < lo < 0.75 < hi < 0.95                      # Wilson, 95%: about [0.53, 0.89]
    assert np.array(r['confusion']).sum() == 20 and isinstance(r['confusion'], list)
    all_right = np.ones(20, bool)
    assert metrics_row(labels, probs, reference_correct=all_right)['mcnemar_p'] == pytest.approx(2 * 0.5**5)   # 5 discordant clips, all one way
    with pytest.raises(ValueError, match='same clips'): metrics_row(labels, probs, reference_correct=all_right[:10])
    with pytest.raises(ValueError, match='one row per label'): metrics_row(labels[:3], probs)
    with pytest.raises(ValueError, match='no predictions'): metrics_row([], np.zeros((0, 4)))
