"The paper's ensembles (chapter 08): which networks, loaded from which run folders, and their averaged predictions."
import numpy as np
import pytest
import torch
import mgr_course.ensemble as ens
from mgr_course.config import CFG
from mgr_course.ensemble import ensemble_members, load_ensemble, ensemble_predictions
from mgr_course.models import Ensemble


def test_members_are_the_papers():
    "Section V.F: mode 1 averages the three single-input networks, mode 2 the late-fusion CRNN and the mel 2D CNN."
    assert ensemble_members('Ensemble1') == ('Raw1DCNN', 'Mel2DCNN', 'MFCC2DCNN')
    assert ensemble_members('Ensemble2', CFG) == ('LateFusionCRNN', 'Mel2DCNN')
    assert ensemble_members('Mine', CFG.replace(ensembles=(('Mine', ('Mel2DCNN',)),))) == ('Mel2DCNN',)
    with pytest.raises(ValueError, match=r"^unknown ensemble 'Ensemble3': the paper's ensembles are \['Ensemble1', 'Ensemble2'\]$"):
        ensemble_members('Ensemble3')


def test_load_ensemble_names_the_missing_members(tmp_path):
    (tmp_path/'Mel2DCNN').mkdir(); (tmp_path/'Mel2DCNN'/'model.pt').write_bytes(b'')
    with pytest.raises(FileNotFoundError) as e: load_ensemble('Ensemble1', tmp_path)
    assert str(e.value) == (f"Ensemble1 needs trained Raw1DCNN, MFCC2DCNN in {tmp_path}: train them first "
                            f"(`mgr train Raw1DCNN MFCC2DCNN` or `mgr reproduce`)")


def test_load_ensemble_loads_each_member_from_its_run_folder(tmp_path, monkeypatch):
    "Catches members loaded from the wrong folder, under the wrong name, in another order, or left in training mode."
    calls = []
    def fake_load(run, cfg=None, name=None):
        calls.append((run, cfg, name))
        return torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Linear(3, CFG.n_classes))
    monkeypatch.setattr(ens, 'load_trained', fake_load)
    for n in ensemble_members('Ensemble2'): (tmp_path/n).mkdir(); (tmp_path/n/'model.pt').touch()
    cfg = CFG.replace(lr=3e-4)
    e = load_ensemble('Ensemble2', tmp_path, cfg)
    assert isinstance(e, Ensemble) and e.names == ['LateFusionCRNN', 'Mel2DCNN'] and not e.training
    assert not any(m.training for m in e.modules())
    assert calls == [(tmp_path/'LateFusionCRNN', cfg, 'LateFusionCRNN'), (tmp_path/'Mel2DCNN', cfg, 'Mel2DCNN')]
    monkeypatch.setattr(ens, 'find_runs', lambda c: tmp_path)                   # the default run folder comes from find_runs
    calls.clear(); load_ensemble('Ensemble2')
    assert [c[0] for c in calls] == [tmp_path/'LateFusionCRNN', tmp_path/'Mel2DCNN'] and calls[0][1] is CFG


def test_ensemble_predictions_average_the_members():
    "The mean of the members' probabilities on the same clips (catches another average, a dropped member, skipped lost)."
    ids, labels = np.array([7, 8, 9]), np.array([0, 1, 2])
    a = dict(probs=np.array([[.6, .4, 0], [.2, .8, 0], [0, .5, .5]]), labels=labels, track_ids=ids, skipped=1, crops='center')
    b = dict(probs=np.array([[0, 1., 0], [.4, .6, 0], [0, .1, .9]]), labels=labels, track_ids=ids, skipped=2, crops='center')
    c = dict(probs=np.array([[.3, .7, 0], [.3, .7, 0], [0, 0, 1.]]), labels=labels, track_ids=ids, crops='center')
    out = ensemble_predictions([a, b, c])
    np.testing.assert_allclose(out['probs'], (a['probs'] + b['probs'] + c['probs']) / 3)
    assert out['skipped'] == 2 and out['crops'] == 'center' and out['track_ids'] is ids and out['labels'] is labels
    assert ensemble_predictions([c])['skipped'] == 0
    np.testing.assert_array_equal(ensemble_predictions([a])['probs'], a['probs'])
    msg = r"^the members' predictions are not on the same clips: evaluate every member on the same split and crops$"
    with pytest.raises(ValueError, match=msg): ensemble_predictions([a, dict(b, track_ids=np.array([7, 8, 10]))])
    with pytest.raises(ValueError, match=msg): ensemble_predictions([a, b, dict(c, labels=np.array([0, 1, 1]))])
    with pytest.raises(ValueError, match=r'^an ensemble needs the predictions of at least one member$'): ensemble_predictions([])


def test_load_ensemble_reads_the_given_config(tmp_path, monkeypatch):
    "An ensemble of the config it is given (catches the members or the default run folder taken from the default config)."
    cfg = CFG.replace(ensembles=(('Mine', ('Mel2DCNN', 'MFCC2DCNN')),), lr=3e-4)
    seen = []
    monkeypatch.setattr(ens, 'load_trained', lambda run, cfg=None, name=None: torch.nn.Linear(3, CFG.n_classes))
    monkeypatch.setattr(ens, 'find_runs', lambda c: seen.append(c) or tmp_path)
    for n in ('Mel2DCNN', 'MFCC2DCNN'): (tmp_path/n).mkdir(); (tmp_path/n/'model.pt').touch()
    assert load_ensemble('Mine', cfg=cfg).names == ['Mel2DCNN', 'MFCC2DCNN'] and seen == [cfg]
