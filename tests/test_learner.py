"The Learner and train_network: what chapter 06 cannot show (faults, bad input, reproducibility across processes)."
import json
import pytest
import torch
from mgr_course.config import CFG
from mgr_course.data import clip_table
from mgr_course.learner import (Callback, CheckpointCB, Learner, load_checkpoint, load_history, load_trained, run_identity,
                                runs_dir, step_budget, train_network)


class Killed(BaseException):
    "Stands for Ctrl-C or a lost machine: not an Exception, so nothing on the way catches it."


class KillAfter(Callback):
    order = 25          # after CheckpointCB has saved the epoch
    def __init__(self, epoch): self.epoch = epoch
    def after_epoch(self, learn):
        if learn.epoch == self.epoch: raise Killed(f'killed after epoch {learn.epoch}')


@pytest.fixture(scope='module')
def clips():
    return clip_table(progress=False)          # the small IN_TEST stand-in dataset (generated on first use)


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


KW = dict(steps=6, device='cpu', progress=False)


def test_two_trainings_give_identical_weights(clips, tmp_path):
    a = train_network('MFCC2DCNN', clips=clips, runs=tmp_path/'a', **KW)
    b = train_network('MFCC2DCNN', clips=clips, runs=tmp_path/'b', **KW)
    assert a['history'] == b['history'] and a['steps'] == 6
    assert same_weights(load_trained(tmp_path/'a'/'MFCC2DCNN'), load_trained(tmp_path/'b'/'MFCC2DCNN'))
    files = {p.name for p in (tmp_path/'a'/'MFCC2DCNN').iterdir()}
    assert files == {'checkpoint.pt', 'model.pt', 'history.json', 'history.csv', 'summary.json'}
    assert json.loads((tmp_path/'a'/'MFCC2DCNN'/'summary.json').read_text())['steps'] == 6
    assert load_history(tmp_path/'a'/'MFCC2DCNN').step.tolist() == [r['step'] for r in a['history']]


def test_killed_and_resumed_equals_uninterrupted(clips, tmp_path):
    kw = dict(KW, steps=3 * 5)                  # IN_TEST: 5 steps an epoch (about 40 training clips, batch 8)
    straight = train_network('MFCC2DCNN', clips=clips, runs=tmp_path/'straight', **kw)
    with pytest.raises(Killed): train_network('MFCC2DCNN', clips=clips, runs=tmp_path/'killed', cbs=[KillAfter(1)], **kw)
    assert len(load_checkpoint(tmp_path/'killed'/'MFCC2DCNN'/'checkpoint.pt')['history']) == 1
    resumed = train_network('MFCC2DCNN', clips=clips, runs=tmp_path/'killed', **kw)
    assert resumed['history'] == straight['history'] and len(resumed['history']) > 1
    assert same_weights(load_trained(tmp_path/'straight'/'MFCC2DCNN'), load_trained(tmp_path/'killed'/'MFCC2DCNN'))


def test_a_bigger_budget_continues_a_finished_run(clips, tmp_path):
    cfg = CFG.replace(patience=1000)   # early stopping out of the way: at test sizes a flat validation loss may end a run early
    first = train_network('MFCC2DCNN', cfg, clips=clips, runs=tmp_path, **dict(KW, steps=5))
    more = train_network('MFCC2DCNN', cfg, clips=clips, runs=tmp_path, **dict(KW, steps=10))
    assert more['history'][:len(first['history'])] == first['history'] and more['steps'] == 10


@pytest.mark.parametrize('bad', [0, -1, 2.5, float('nan'), float('inf'), True])
def test_bad_budgets_fail_before_any_work(clips, tmp_path, bad):
    with pytest.raises(ValueError, match='above 0'): train_network('MFCC2DCNN', clips=clips, runs=tmp_path, steps=bad, progress=False)
    with pytest.raises(ValueError, match='above 0'): train_network('MFCC2DCNN', clips=clips, runs=tmp_path, epochs=bad, progress=False)
    assert not any(tmp_path.iterdir()), 'a rejected budget wrote something'
    with pytest.raises(ValueError, match='not both'): step_budget('Mel2DCNN', 10, steps=5, epochs=5)


def test_unknown_network_fails_before_any_work(tmp_path):
    with pytest.raises(ValueError, match='choose one of'): train_network('VGG16', runs=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_damaged_or_foreign_checkpoint_is_a_clear_error(clips, tmp_path):
    run = tmp_path/'MFCC2DCNN'; run.mkdir()
    (run/'checkpoint.pt').write_bytes(b'half a checkpoi')
    with pytest.raises(RuntimeError, match='not a readable checkpoint.*delete it'): train_network('MFCC2DCNN', clips=clips, runs=tmp_path, **KW)
    torch.save({'format': 1, 'model': {}}, run/'checkpoint.pt')
    with pytest.raises(RuntimeError, match='another version of mgr_course'): load_checkpoint(run/'checkpoint.pt')


def test_checkpoint_of_another_run_is_refused(clips, tmp_path):
    train_network('MFCC2DCNN', clips=clips, runs=tmp_path, **KW)
    with pytest.raises(RuntimeError, match='belongs to another run'):
        train_network('MFCC2DCNN', cfg=CFG.replace(lr=3e-4), clips=clips, runs=tmp_path, **KW)


def test_a_saved_model_of_another_network_is_refused(clips, tmp_path):
    train_network('MFCC2DCNN', clips=clips, runs=tmp_path, **KW)
    (tmp_path/'MFCC2DCNN').rename(tmp_path/'Mel2DCNN')           # same tensor shapes would load silently
    with pytest.raises(ValueError, match='holds a trained MFCC2DCNN, not a Mel2DCNN'): load_trained(tmp_path/'Mel2DCNN', name='Mel2DCNN')


def test_run_folders_follow_the_datasets_content(clips, tmp_path):
    other = clips.copy()
    p = tmp_path/'clip.mp3'; p.write_bytes(open(other.path.iloc[0], 'rb').read() + b'\0')   # same name elsewhere, other bytes
    other.iloc[0, other.columns.get_loc('path')] = str(p)
    assert run_identity('Mel2DCNN', clips) != run_identity('Mel2DCNN', other)
    assert runs_dir(CFG, clips) != runs_dir(CFG, other)


def test_checkpoint_write_is_atomic(clips, tmp_path, monkeypatch):
    train_network('MFCC2DCNN', clips=clips, runs=tmp_path, **dict(KW, steps=5))
    ck = tmp_path/'MFCC2DCNN'/'checkpoint.pt'
    before = ck.read_bytes()
    def power_cut(obj, f, *a, **k):
        f.write(b'half'); raise OSError(28, 'No space left on device')
    monkeypatch.setattr(torch, 'save', power_cut)
    with pytest.raises(OSError, match='checkpoint.pt'): train_network('MFCC2DCNN', clips=clips, runs=tmp_path, **dict(KW, steps=10))
    assert ck.read_bytes() == before and not list(ck.parent.glob('.*tmp*'))


def test_missing_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='train a network'): load_history(tmp_path)
    with pytest.raises(FileNotFoundError, match='train a network'): load_trained(tmp_path)


def test_training_loss_falls_on_separable_data():
    "The loop learns: on 8 well-separated classes the training loss falls to under a third of its first epoch and"
    " validation reaches 90% (catches an optimizer that never steps, a missing backward, or gradients zeroed before the step);"
    " the two-runs test above cannot see these, as both runs would be equally wrong."
    from mgr_course.learner import MetricsCB
    g = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(CFG.n_classes, 16, generator=g)
    def batches(n):
        y = torch.arange(n) % CFG.n_classes
        x = centres[y] + torch.randn(n, 16, generator=g)
        return [(x[i:i + 16], y[i:i + 16]) for i in range(0, n, 16)]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, CFG.n_classes))
    learn = Learner(model, batches(256), batches(64), lr=1e-2, cbs=[MetricsCB()]).fit(4)
    h = learn.history
    assert len(h) == 4 and learn.step == 4 * 16
    assert h[-1]['train_loss'] < h[0]['train_loss'] / 3, [r['train_loss'] for r in h]
    assert h[-1]['valid_accuracy'] >= 0.9, h[-1]
