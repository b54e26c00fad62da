"Training: the loss falls, early stopping stops, a killed run resumes to the same weights, checkpoints are atomic."
import json
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
from torch.utils.data import Dataset, TensorDataset
from mgr_course.config import CFG
from mgr_course.training import (GenreClassifier, build_model, fit, load_checkpoint, load_history, load_trained,
                                 predict_probs, plot_history, atomic_save, MODEL_NAMES, epochs_for)

K = 4
TOY_CFG = CFG.replace(genres=CFG.genres[:K])
KW = dict(cfg=TOY_CFG, batch_size=16, num_workers=0, device='cpu', progress=False)


def toy_data(n, seed, learnable=True, dim=24):
    "Vectors [n, 1, dim]; with `learnable` the label is the argmax of the first K coordinates, else random."
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, dim, generator=g)
    y = x[:, 0, :K].argmax(1) if learnable else torch.randint(0, K, (n,), generator=g)
    return TensorDataset(x, y)


def toy_model(dim=24, seed=0):
    torch.manual_seed(seed)
    return GenreClassifier(nn.Flatten(), nn.Sequential(nn.Linear(dim, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, K)), name='toy')


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


class Killed(BaseException):
    "Stands for Ctrl-C or a lost machine: not an Exception, so nothing on the way catches it."


def kill_after(n):
    def cb(epoch, record):
        if epoch == n: raise Killed(f'killed after epoch {epoch}')
    return cb


def test_short_training_lowers_the_loss(tmp_path):
    s = fit(toy_model(), toy_data(256, 1), toy_data(128, 2), tmp_path/'run', max_epochs=5, patience=5, lr=1e-2, **KW)
    h = s['history']
    assert len(h) == 5 and s['epochs'] == 5 and not s['stopped_early']
    assert h[-1]['train_loss'] < 0.8 * h[0]['train_loss']
    assert h[-1]['valid_loss'] < h[0]['valid_loss']
    assert h[-1]['valid_accuracy'] > 0.5                       # chance is 0.25
    assert set(h[0]) >= {'epoch', 'train_loss', 'train_accuracy', 'train_macro_f1', 'valid_loss', 'valid_accuracy', 'valid_macro_f1',
                         'train_skipped', 'valid_skipped'}
    files = {p.name for p in (tmp_path/'run').iterdir()}
    assert files == {'checkpoint.pt', 'history.json', 'history.csv', 'model.pt', 'summary.json'}
    assert json.loads((tmp_path/'run'/'history.json').read_text()) == h
    assert load_history(tmp_path/'run').valid_loss.tolist() == [r['valid_loss'] for r in h]
    assert json.loads((tmp_path/'run'/'summary.json').read_text())['epochs'] == 5


def test_early_stopping_stops_and_restores_best(tmp_path):
    model = toy_model()
    s = fit(model, toy_data(200, 1, learnable=False), toy_data(100, 2, learnable=False), tmp_path/'run', max_epochs=40, patience=2, **KW)
    h = s['history']
    assert s['stopped_early'] and s['epochs'] < 40
    assert s['epochs'] == s['best_epoch'] + 2                  # exactly `patience` epochs without improvement
    assert s['best_valid_loss'] == min(r['valid_loss'] for r in h)
    best = torch.load(tmp_path/'run'/'model.pt', weights_only=True)['model']
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())      # the best weights are back in the model
    # and they are not the last epoch's: the checkpoint holds those
    last = load_checkpoint(tmp_path/'run'/'checkpoint.pt')['model']
    assert not all(torch.equal(last[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize('num_workers', [0, 2])
def test_kill_and_resume_equals_uninterrupted(tmp_path, num_workers):
    kw = dict(KW, num_workers=num_workers, max_epochs=3, patience=10)
    train, valid = toy_data(160, 1), toy_data(64, 2)
    straight = toy_model()
    s1 = fit(straight, train, valid, tmp_path/'straight', **kw)
    killed = toy_model()
    with pytest.raises(Killed): fit(killed, train, valid, tmp_path/'killed', callbacks=[kill_after(1)], **kw)
    assert load_checkpoint(tmp_path/'killed'/'checkpoint.pt')['epoch'] == 1
    resumed = toy_model(seed=123)                              # a fresh process would build a fresh model: weights come from the checkpoint
    s2 = fit(resumed, train, valid, tmp_path/'killed', **kw)
    assert s2['history'] == s1['history'] and len(s1['history']) == 3
    assert same_weights(straight, resumed)
    ck1, ck2 = (load_checkpoint(tmp_path/r/'checkpoint.pt') for r in ('straight', 'killed'))
    for k, v in ck1['optimizer']['state'].items():
        assert all(torch.equal(v[n], ck2['optimizer']['state'][k][n]) for n in v)


def test_finished_run_is_not_trained_again(tmp_path):
    s1 = fit(toy_model(), toy_data(64, 1), toy_data(32, 2), tmp_path/'run', max_epochs=2, **KW)
    calls = []
    model = toy_model(seed=5)
    s2 = fit(model, toy_data(64, 1), toy_data(32, 2), tmp_path/'run', max_epochs=2, callbacks=[lambda e, r: calls.append(e)], **KW)
    assert calls == [] and s2['history'] == s1['history']
    assert same_weights(model, load_trained_toy(tmp_path/'run'))
    # a larger budget continues the same run
    s3 = fit(toy_model(), toy_data(64, 1), toy_data(32, 2), tmp_path/'run', max_epochs=3, patience=10, **{**KW})
    assert len(s3['history']) == 3 and s3['history'][:2] == s1['history']


def load_trained_toy(run_dir):
    m = toy_model(seed=9)
    m.load_state_dict(torch.load(run_dir/'model.pt', weights_only=True)['model'])
    return m


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    "A crash in the middle of writing epoch 2's checkpoint leaves epoch 1's intact and no partial file; resuming then matches."
    kw = dict(KW, max_epochs=3, patience=10)
    train, valid = toy_data(96, 1), toy_data(48, 2)
    real_save, calls = torch.save, []

    def crashing_save(obj, f, *a, **k):
        calls.append(1)
        if len(calls) == 2:                                    # epoch 2's checkpoint
            f.write(b'PK\x03\x04 half a checkpoint')
            raise OSError('No space left on device')
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, 'save', crashing_save)
    with pytest.raises(OSError, match='No space'): fit(toy_model(), train, valid, tmp_path/'run', **kw)
    monkeypatch.setattr(torch, 'save', real_save)
    assert sorted(p.name for p in (tmp_path/'run').iterdir()) == ['checkpoint.pt', 'history.csv', 'history.json']
    assert load_checkpoint(tmp_path/'run'/'checkpoint.pt')['epoch'] == 1
    resumed = toy_model()
    s = fit(resumed, train, valid, tmp_path/'run', **kw)
    straight = toy_model()
    assert fit(straight, train, valid, tmp_path/'straight', **kw)['history'] == s['history']
    assert same_weights(straight, resumed)


def test_atomic_save_leaves_no_temporary_file(tmp_path):
    atomic_save({'a': 1}, tmp_path/'x.pt')
    class Boom:
        def __reduce__(self): raise RuntimeError('cannot pickle')
    with pytest.raises(RuntimeError): atomic_save({'b': Boom()}, tmp_path/'x.pt')
    assert [p.name for p in tmp_path.iterdir()] == ['x.pt'] and torch.load(tmp_path/'x.pt')['a'] == 1


def test_damaged_or_foreign_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path/'run').mkdir()
    (tmp_path/'run'/'checkpoint.pt').write_bytes(b'not a checkpoint')
    with pytest.raises(RuntimeError, match='checkpoint.pt.*delete'):
        fit(toy_model(), toy_data(32, 1), toy_data(16, 2), tmp_path/'run', max_epochs=1, **KW)
    fit(toy_model(), toy_data(32, 1), toy_data(16, 2), tmp_path/'other', max_epochs=1, **KW)
    with pytest.raises(RuntimeError, match='other settings'):
        fit(toy_model(), toy_data(32, 1), toy_data(16, 2), tmp_path/'other', max_epochs=2, **{**KW, 'batch_size': 8})
    with pytest.raises(RuntimeError, match='another network'):
        wide = GenreClassifier(nn.Flatten(), nn.Linear(24, K), name='toy')
        fit(wide, toy_data(32, 1), toy_data(16, 2), tmp_path/'other', max_epochs=2, **KW)


class SometimesBroken(Dataset):
    "Items 0, 5, 10, ... fail to decode (None), as CropDataset does for a damaged clip."
    def __init__(self, base): self.base = base
    def __len__(self): return len(self.base)
    def __getitem__(self, i): return None if i % 5 == 0 else self.base[i]


def test_undecodable_clips_are_counted_not_fatal(tmp_path):
    s = fit(toy_model(), SometimesBroken(toy_data(50, 1)), SometimesBroken(toy_data(20, 2)), tmp_path/'run', max_epochs=2, **KW)
    assert [h['train_skipped'] for h in s['history']] == [10, 10] and [h['valid_skipped'] for h in s['history']] == [4, 4]
    assert s['skipped'] == 28


def test_predict_probs_and_plot_history(tmp_path):
    import matplotlib; matplotlib.use('Agg')
    model = toy_model()
    s = fit(model, toy_data(64, 1), toy_data(40, 2), tmp_path/'run', max_epochs=2, **KW)
    probs, labels = predict_probs(model, toy_data(40, 2), batch_size=16, num_workers=0, device='cpu', progress=False)
    assert probs.shape == (40, K) and labels.shape == (40,)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)
    np.testing.assert_array_equal(labels, toy_data(40, 2).tensors[1].numpy())
    for h in (s, s['history'], tmp_path/'run'):
        axes = plot_history(h)
        assert len(axes) == 2 and len(axes[0].lines) == 3


def test_missing_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='train a model'): load_history(tmp_path)
    with pytest.raises(FileNotFoundError, match='train a model'): load_trained(tmp_path)


def test_build_model_names_and_epochs():
    with pytest.raises(ValueError, match='choose one of'): build_model('ResNet50')
    assert epochs_for('Mel2DCNN') == CFG.max_epochs
    assert epochs_for('LateFusionCRNN') == min(CFG.max_epochs, CFG.late_fusion_epochs)   # the paper's cap of 10
    assert epochs_for('LateFusionCRNN', CFG.replace(max_epochs=20)) == CFG.late_fusion_epochs == 10


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_build_model_takes_a_waveform(name):
    from mgr_course.models import count_weights
    model = build_model(name).eval()
    assert model.name == name
    with torch.no_grad(): out = model(torch.randn(2, 1, CFG.crop_samples))
    assert out.shape == (2, CFG.n_classes)
    assert count_weights(model) == count_weights(model.net) > 0            # the front end adds no trainable weight


@pytest.fixture(scope='module')
def clips():
    from mgr_course.data import clip_table
    return clip_table(progress=False)               # the small IN_TEST stand-in dataset (generated on first use)


def test_evaluate_center_and_all_crops(clips, tmp_path):
    from mgr_course.data import crop_offsets
    from mgr_course.training import AllCropsDataset, evaluate
    torch.manual_seed(0)
    model = build_model('MFCC2DCNN')
    n = int((clips.split == 'validation').sum())
    ds = AllCropsDataset(clips, 'validation')
    x, y = ds[0]
    assert x.shape == (len(crop_offsets(int(clips[clips.split == 'validation'].samples.iloc[0]), CFG.crop_samples)), 1, CFG.crop_samples)
    for crops in ('center', 'all'):
        r = evaluate(model, clips, 'validation', crops=crops, num_workers=0, device='cpu', progress=False)
        assert r['n'] == n and r['skipped'] == 0 and r['confusion'].sum() == n and r['crops'] == crops
        assert 0 <= r['top1_accuracy'] <= 1 and r['one_vs_rest_accuracy'] == pytest.approx(1 - 2 * (1 - r['top1_accuracy']) / CFG.n_classes)
    # a damaged clip is skipped and counted, not fatal
    bad = clips.copy()
    victim = bad.index[bad.split == 'validation'][0]
    (tmp_path/'bad.mp3').write_bytes(b'this is not an mp3')
    bad.loc[victim, 'path'] = str(tmp_path/'bad.mp3')
    with pytest.warns(RuntimeWarning, match='skipping'):
        r = evaluate(model, bad, 'validation', crops='all', num_workers=0, device='cpu', progress=False)
    assert r['skipped'] == 1 and r['n'] == n - 1
    with pytest.raises(ValueError, match="'center' or 'all'"): evaluate(model, clips, 'validation', crops='some')


def test_kill_and_resume_on_the_real_pipeline(clips, tmp_path):
    "The same, through clip_table -> CropDataset (random crops, augmentation) -> make_loader -> a paper network."
    from mgr_course.datasets import CropDataset
    small = pd.concat([clips[clips.split == 'training'].iloc[:6], clips[clips.split == 'validation'].iloc[:3]])
    train, valid = CropDataset(small, 'training'), CropDataset(small, 'validation')
    kw = dict(max_epochs=2, patience=5, batch_size=3, num_workers=0, device='cpu', progress=False)
    def model():
        torch.manual_seed(CFG.seed); return build_model('MFCC2DCNN')
    straight = model(); s1 = fit(straight, train, valid, tmp_path/'straight', **kw)
    with pytest.raises(Killed): fit(model(), train, valid, tmp_path/'killed', callbacks=[kill_after(1)], **kw)
    resumed = model(); s2 = fit(resumed, train, valid, tmp_path/'killed', **kw)
    assert s1['history'] == s2['history'] and len(s2['history']) == 2
    assert same_weights(straight, resumed)
