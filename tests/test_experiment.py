"The experiment (chapter 09): the results file's fields, with training stood in for (the command-line tests run the real main job)."
import json, os
import numpy as np
import pytest
import torch
from mgr_course.config import CFG
from mgr_course import experiment
from mgr_course.experiment import reproduce, load_results, relative_path, score_rows, table1_markdown, RESULTS_FORMAT, REFERENCE, BASELINE
from mgr_course.models import build_model, network_names


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "`reproduce` at IN_TEST sizes with untrained networks: training is chapter 06's business, not this one's."
    tmp = tmp_path_factory.mktemp('experiment')
    mp = pytest.MonkeyPatch()
    torch.manual_seed(0)
    nets = {n: build_model(n).eval() for n in network_names()}
    history = [dict(step=1, epoch=1, train_loss=2.1, train_accuracy=0.1, valid_loss=2.0, valid_accuracy=0.15)]
    mp.setattr(experiment, 'train_network', lambda name, cfg=None, clips=None, runs=None, progress=True, **budget:
               dict(name=name, epochs=1, history=history, settings={}, run_dir=str(runs/name)))   # a machine path, to be scrubbed
    mp.setattr(experiment, 'load_trained', lambda run_dir, cfg=None, name=None: nets[os.path.basename(run_dir)])
    res = reproduce(out=tmp/'out', runs=tmp/'runs', progress=False, verbose=False)
    mp.undo()
    return res, tmp


def test_rows_have_intervals_and_mcnemar(run):
    res, _ = run
    assert set(res['rows']) == {*network_names(), *dict(CFG.ensembles), BASELINE}
    assert res['rows'][BASELINE]['kind'] == 'baseline' and res['reference'] == REFERENCE
    key = f'mcnemar_p_vs_{REFERENCE}'
    for name, row in res['rows'].items():
        for crops in ('center', 'multicrop'):
            r = row[crops]
            lo, hi = r['top1_ci']
            assert 0 <= lo <= r['top1_accuracy'] <= hi <= 1 and r['n'] == res['clips']['test'] and r['skipped'] == 0
            assert np.array(r['confusion']).sum() == r['n'] and 'mcnemar_p' not in r
            if name == REFERENCE: assert r[key] is None
            else: assert 0 < r[key] <= 1
    assert res['rows'][BASELINE]['center'] == res['rows'][BASELINE]['multicrop']     # whole clips: no crops


def test_results_file_has_no_machine_paths(run):
    res, tmp = run
    text = (tmp/'out'/'results.json').read_text()
    assert str(tmp) not in text and os.path.expanduser('~') + '/' not in text
    strings = []
    def walk(o):
        if isinstance(o, dict): [walk(v) for v in o.values()]
        elif isinstance(o, list): [walk(v) for v in o]
        elif isinstance(o, str): strings.append(o)
    walk(json.loads(text))
    assert not [s for s in strings if os.path.isabs(s)]
    assert res['dataset_root'] and not os.path.isabs(res['dataset_root'])
    assert res['rows']['Mel2DCNN']['train']['run_dir'] == 'Mel2DCNN'                # outside the clone and the data folder: its name


def test_results_record_machine_and_times(run):
    res, tmp = run
    m = res['machine']
    assert m['cpu'] and m['cores'] >= 1 and m['torch'] == torch.__version__
    if not os.environ.get('MGR_PRECISION') and m['device'] == 'cpu':
        # the oracle is the CPU's flags, not the library: catches a run recorded (and run) in float32 on a bf16 CPU
        from test_config import proc_flags
        assert m['precision'] == ('bfloat16' if {'avx512_bf16', 'amx_bf16'} & proc_flags() else 'float32'), m
    assert {'generate', 'scan', 'cache + augmentation bank', 'evaluation', 'baseline', *[f'train {n}' for n in network_names()]} <= set(res['times'])
    # the times are measured: evaluating seven rows takes a visible time, and no step outlasts the whole job
    assert res['times']['evaluation'] > 0 and all(v >= 0 for v in res['times'].values())
    assert sum(res['times'].values()) <= res['wall_seconds'] + 0.05 * len(res['times']), (res['times'], res['wall_seconds'])
    assert load_results(tmp/'out')['format'] == RESULTS_FORMAT
    md = (tmp/'out'/'table1.md').read_text()
    assert m['cpu'] in md and 'Wall time' in md


def _cells(md):
    return {(row := [c.strip() for c in line.strip('|').split('|')])[0]: row[1:] for line in md.splitlines()[2:]}

def test_table1_quotes_every_paper_cell_and_only_those(run):
    "Every cell the paper's Table I gives, beside ours; '–' where it gives none (its ensembles' weights, our baseline)."
    res, _ = run
    first, second = experiment.table1_metrics_markdown(res).split('\n\n')            # weights and 1-vs-rest; precision, recall, F1
    main, w, other = _cells(table1_markdown(res)), _cells(first), _cells(second)
    assert set(main) == set(w) == set(other) == set(res['rows'])
    for name in res['rows']:
        paper = [main[name][0]] + [c.split(' / ')[0] for c in w[name] + other[name]]
        if name == BASELINE: assert set(paper) == {'–'}
        elif name in dict(CFG.ensembles):
            assert paper[1] == '–' and '–' not in paper[:1] + paper[2:] and w[name][0].split(' / ')[1].startswith('Σ ')
        else: assert '–' not in paper, (name, paper)

def test_results_keep_every_clip_prediction(run):
    "results.json keeps each row's predicted genre per test clip, enough to redo McNemar's test from the file alone."
    res, tmp = run
    saved = load_results(tmp/'out')
    n = res['clips']['test']
    assert len(saved['test_clips']['track_ids']) == len(saved['test_clips']['labels']) == n
    for name, row in saved['rows'].items():
        for crops in ('center', 'multicrop'):
            assert len(row['predicted'][crops]) == n
            assert np.mean(experiment.clip_correct(saved, name, crops)) == pytest.approx(row[crops]['top1_accuracy'])
        if name != REFERENCE:
            p = experiment.paired_test(saved, name, REFERENCE)[1]
            assert p == pytest.approx(row['center'][f'mcnemar_p_vs_{REFERENCE}'])


def test_relative_path_uses_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv('MGR_DATA', str(tmp_path))
    assert relative_path(tmp_path/'fma'/'000'/'000002.mp3') == '<data>/fma/000/000002.mp3'
    assert relative_path('/somewhere/else/clip.wav') == 'clip.wav'


def test_mcnemar_on_the_shared_clips_only():
    labels = np.arange(60) % 8
    right, wrong = np.eye(8)[labels], np.eye(8)[(labels + 1) % 8]
    ref = dict(probs=np.where(np.arange(60)[:, None] < 30, right, wrong), labels=labels, track_ids=np.arange(60))
    other = dict(probs=right[:50], labels=labels[:50], track_ids=np.arange(50))            # 10 clips it could not decode
    rows = score_rows({REFERENCE: {'center': ref}, 'Other': {'center': other}})
    assert rows['Other']['center']['n'] == 50
    assert rows['Other']['center'][f'mcnemar_p_vs_{REFERENCE}'] == pytest.approx(2 * 0.5**20)   # 20 shared clips only Other gets right


def test_timer_against_known_sleeps():
    "Two naps of 0.3 s add up to 0.6 s, kept to 0.1 s: catches a timer that records 0, or one that keeps only the last block."
    import time
    times = {}
    for _ in range(2):
        with experiment._timed(times, 'nap'): time.sleep(0.3)
    assert 0.55 <= times['nap'] <= 0.9, times
    with pytest.raises(KeyError):                                         # a failing block is timed too, and not swallowed
        with experiment._timed(times, 'fails'): time.sleep(0.2); raise KeyError('x')
    assert 0.15 <= times['fails'] <= 0.5, times
