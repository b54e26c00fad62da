"Metrics against a hand-computed confusion matrix and scikit-learn on many class counts, the statistics against statsmodels, and bad inputs."
import numpy as np, pandas as pd
import pytest
import sklearn.metrics as skm
import statsmodels.stats.proportion as proportion        # statsmodels: a dev dependency (pyproject.toml)
import statsmodels.stats.contingency_tables as contingency
from mgr_course.metrics import (confusion_matrix, class_counts, one_vs_rest_accuracy, macro_precision, macro_recall,
                                paper_f1, top1_accuracy, macro_f1, paper_metrics, per_genre_table, plot_confusion,
                                precision_per_class, wilson_interval, mcnemar_exact, two_proportion_p, top1_with_ci,
                                top1_statistics, paper_table1, PAPER_TABLE1, plot_top1_ci, top1_from_one_vs_rest)

# 4 classes, hand-computed: rows true, columns predicted
CM = np.array([[5, 1, 0, 0],
               [2, 3, 1, 0],
               [0, 0, 4, 2],
               [1, 0, 0, 1]])


def test_hand_computed():
    n = CM.sum()                                   # 20
    tp = np.array([5, 3, 4, 1]); fp = np.array([3, 1, 1, 2]); fn = np.array([1, 3, 2, 1])
    got = class_counts(CM)
    np.testing.assert_array_equal(got[0], tp); np.testing.assert_array_equal(got[1], fp); np.testing.assert_array_equal(got[2], fn)
    np.testing.assert_array_equal(got[3], n - tp - fp - fn)
    assert one_vs_rest_accuracy(CM) == pytest.approx(np.mean([(20 - 4) / 20, (20 - 4) / 20, (20 - 3) / 20, (20 - 3) / 20]))
    p = np.mean([5 / 8, 3 / 4, 4 / 5, 1 / 3]); r = np.mean([5 / 6, 3 / 6, 4 / 6, 1 / 2])
    assert macro_precision(CM) == pytest.approx(p)
    assert macro_recall(CM) == pytest.approx(r)
    assert paper_f1(CM) == pytest.approx(2 * p * r / (p + r))
    assert top1_accuracy(CM) == pytest.approx(13 / 20)
    assert macro_f1(CM) == pytest.approx(np.mean([10 / 14, 6 / 10, 8 / 11, 2 / 5]))


@pytest.mark.parametrize('seed', range(5))
def test_against_sklearn(seed):
    rng = np.random.default_rng(seed)
    K = int(rng.integers(2, 10)); n = int(rng.integers(5, 300))
    yt = rng.integers(0, K, n)
    yp = np.where(rng.random(n) < 0.4, yt, rng.integers(0, K, n))
    cm = confusion_matrix(yt, yp, K)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(yt, yp, labels=range(K)))
    kw = dict(labels=range(K), average='macro', zero_division=0)
    assert macro_precision(cm) == pytest.approx(skm.precision_score(yt, yp, **kw))
    assert macro_recall(cm) == pytest.approx(skm.recall_score(yt, yp, **kw))
    assert macro_f1(cm) == pytest.approx(skm.f1_score(yt, yp, **kw))
    assert top1_accuracy(cm) == pytest.approx(skm.accuracy_score(yt, yp))
    assert one_vs_rest_accuracy(cm) == pytest.approx(np.mean([skm.accuracy_score(yt == k, yp == k) for k in range(K)]))


def test_class_never_predicted_has_precision_zero():
    yt = [0, 1, 2, 2]; yp = [0, 0, 0, 2]          # class 1 never predicted
    cm = confusion_matrix(yt, yp, 3)
    with np.errstate(all='raise'):                 # no division warnings either
        prec = precision_per_class(cm)
        assert prec[1] == 0.0
        m = paper_metrics(yt, yp, 3)
    assert all(np.isfinite(v) for v in m.values())
    assert m['macro_precision'] == pytest.approx(skm.precision_score(yt, yp, labels=range(3), average='macro', zero_division=0))
    assert m['macro_f1'] == pytest.approx(skm.f1_score(yt, yp, labels=range(3), average='macro', zero_division=0))


def test_class_absent_and_empty():
    cm = confusion_matrix([0, 0], [0, 0], 3)       # classes 1, 2 neither present nor predicted
    assert macro_recall(cm) == pytest.approx(1 / 3)
    assert paper_f1(np.zeros((3, 3))) == 0.0 and top1_accuracy(np.zeros((3, 3))) == 0.0
    assert paper_f1(np.array([[0, 1], [1, 0]])) == 0.0   # everything wrong: precision = recall = 0


def test_bad_inputs():
    with pytest.raises(ValueError, match='outside'): confusion_matrix([0, 5], [0, 1], 3)
    with pytest.raises(ValueError, match='one prediction per example'): confusion_matrix([0, 1], [0], 3)
    with pytest.raises(ValueError, match='square'): one_vs_rest_accuracy(np.zeros((2, 3)))


def test_per_genre_table_and_plot():
    import matplotlib; matplotlib.use('Agg')
    t = per_genre_table(CM, genres=list('abcd'))
    assert list(t.index) == list('abcd') and t.support.tolist() == [6, 6, 6, 2]
    ax = plot_confusion(CM, genres=list('abcd'))
    assert ax.get_xlabel() == 'predicted genre'
    plot_confusion(CM, genres=list('abcd'), normalize=False)



# --- honest statistics: Wilson intervals, McNemar, the unpaired two-proportion test, against statsmodels ---


@pytest.mark.parametrize('n', [1, 2, 3, 5, 10, 20, 37, 100, 800, 10_000])
@pytest.mark.parametrize('confidence', [0.8, 0.95, 0.99])
def test_wilson_against_statsmodels(n, confidence):
    ks = sorted({0, 1, n // 3, n // 2, n - 1, n})
    for k in ks:
        lo, hi = proportion.proportion_confint(k, n, alpha=1 - confidence, method='wilson')
        got = wilson_interval(k, n, confidence)
        assert got == pytest.approx((lo, hi), abs=1e-12), (k, n)
        assert 0.0 <= got[0] <= k / n <= got[1] <= 1.0
    assert wilson_interval(0, n, confidence)[0] == 0.0 and wilson_interval(n, n, confidence)[1] == 1.0


def test_wilson_numpy_counts_and_empty():
    assert wilson_interval(np.int64(379), np.int64(800)) == pytest.approx(wilson_interval(379, 800))
    assert wilson_interval(379.0, 800) == wilson_interval(379, 800)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo95, hi95 = wilson_interval(30, 100); lo99, hi99 = wilson_interval(30, 100, 0.99)
    assert lo99 < lo95 and hi95 < hi99


@pytest.mark.parametrize('k, n, match', [(5, 4, 'cannot exceed'), (-1, 10, 'non-negative'), (1, -3, 'non-negative'),
                                         (1.5, 10, 'whole number'), (True, 10, 'count')])
def test_wilson_bad_counts(k, n, match):
    with pytest.raises(ValueError, match=match): wilson_interval(k, n)


@pytest.mark.parametrize('confidence', [0, 1, 1.5, -0.1])
def test_wilson_bad_confidence(confidence):
    with pytest.raises(ValueError, match='strictly between 0 and 1'): wilson_interval(3, 10, confidence)


def _mcnemar_statsmodels(a, b):
    table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
    return contingency.mcnemar(table, exact=True).pvalue


@pytest.mark.parametrize('seed', range(30))
def test_mcnemar_against_statsmodels(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    a = rng.random(n) < rng.random()
    b = np.where(rng.random(n) < rng.random(), a, rng.random(n) < rng.random())   # correlated, as two networks are
    assert mcnemar_exact(a, b) == pytest.approx(_mcnemar_statsmodels(a, b), rel=1e-9, abs=1e-15)
    assert mcnemar_exact(a.astype(int), b.astype(int)) == mcnemar_exact(a, b) == mcnemar_exact(b, a)


def test_mcnemar_edges():
    a = np.array([True, False, True])
    assert mcnemar_exact(a, a) == 1.0 and mcnemar_exact([], []) == 1.0
    assert mcnemar_exact([True], [False]) == 1.0                                     # one discordant clip proves nothing
    assert mcnemar_exact(np.ones(10, bool), np.zeros(10, bool)) == pytest.approx(2 * 0.5 ** 10)


def test_mcnemar_bad_inputs():
    with pytest.raises(ValueError, match='correct_a has 3 clips but correct_b has 2'): mcnemar_exact([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match='1-D'): mcnemar_exact(np.ones((2, 2), bool), np.ones(4, bool))
    with pytest.raises(ValueError, match='other than True/False'): mcnemar_exact([0, 2, 1], [1, 1, 1])


@pytest.mark.parametrize('seed', range(10))
def test_two_proportion_against_statsmodels(seed):
    rng = np.random.default_rng(seed)
    n1, n2 = (int(v) for v in rng.integers(5, 1000, 2))
    k1, k2 = int(rng.integers(1, n1)), int(rng.integers(1, n2))
    _, p = proportion.proportions_ztest([k1, k2], [n1, n2])
    assert two_proportion_p(k1, n1, k2, n2) == pytest.approx(p, rel=1e-9)


def test_two_proportion_edges_and_bad_inputs():
    assert two_proportion_p(10, 10, 20, 20) == 1.0 and two_proportion_p(0, 5, 0, 7) == 1.0
    assert two_proportion_p(379, 800, 379, 800) == 1.0
    for args in [(11, 10, 3, 10), (1, 0, 1, 10), (-1, 10, 1, 10), (1, 10, 2.5, 10)]:
        with pytest.raises(ValueError): two_proportion_p(*args)


def test_top1_with_ci_and_statistics():
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    probs = np.eye(4)[[0, 1, 2, 0, 0, 3, 2, 3]]                 # 6 of 8 right
    assert top1_with_ci(labels, probs) == dict(top1=0.75, top1_ci=list(wilson_interval(6, 8)), n=8)
    assert top1_with_ci(labels, probs.argmax(1), 0.9)['top1_ci'] == list(wilson_interval(6, 8, 0.9))
    with pytest.raises(ValueError, match='8 clips but the predictions have 7'): top1_with_ci(labels, probs[:7])
    other = labels.copy(); other[:2] = (other[:2] + 1) % 4         # wrong on clips 0 and 1, right elsewhere
    s = top1_statistics(labels, dict(A=probs, B=other), reference='B')
    assert s['B']['mcnemar_p_vs_B'] is None and set(s['A']) == {'top1', 'top1_ci', 'n', 'mcnemar_p_vs_B'}
    ref, ok = other == labels, probs.argmax(1) == labels
    assert s['A']['mcnemar_p_vs_B'] == pytest.approx(_mcnemar_statsmodels(ok, ref))
    with pytest.raises(ValueError, match="reference row 'Mel2DCNN'"): top1_statistics(labels, dict(A=probs))


def test_paper_table1_complete():
    t = paper_table1()
    assert list(t.index) == ['Raw1DCNN', 'Mel2DCNN', 'MFCC2DCNN', 'LateFusionCRNN', 'Ensemble1', 'Ensemble2']
    assert list(t.columns) == ['weights', 'weights_from', 'one_vs_rest_accuracy', 'macro_precision', 'macro_recall', 'paper_f1', 'top1_accuracy']
    assert not t.isna().any().any() and t.weights.dtype == np.int64
    assert t.weights['Ensemble2'] == 412_728 + 139_306 and t.weights_from['Ensemble2'] == 'sum of LateFusionCRNN + Mel2DCNN'
    assert t.weights_from['Mel2DCNN'] == 'paper' and [r[1] for r in PAPER_TABLE1][4:] == [None, None]   # the paper prints "-"
    num = t.drop(columns=['weights', 'weights_from'])
    assert ((num > 0) & (num < 1)).all().all()
    assert (t.paper_f1 - 2 * t.macro_precision * t.macro_recall / (t.macro_precision + t.macro_recall)).abs().max() < 2e-4


def test_plot_top1_ci():
    import matplotlib; matplotlib.use('Agg')
    ax = plot_top1_ci(['a', 'b'], [0.5, 0.25], [wilson_interval(50, 100), wilson_interval(25, 100)], chance=0.125)
    labels = {t.get_position()[1]: t.get_text() for t in ax.get_yticklabels()}
    assert labels == {1: 'a', 0: 'b'}                                # first row on top
    (line, *_), = [c.lines for c in ax.containers]                     # the dots
    assert line.get_xdata().tolist() == [0.5, 0.25]
    assert ax.get_xlabel() == 'top-1 accuracy'


# --- what mutation testing (make mutants) found unguarded: each test names the mutants it kills ---


def test_confusion_matrix_boundaries_and_messages():
    "Catches `>=` turned into `>` (label K accepted), the labels quoted wrongly, and float labels not cast to whole numbers."
    with pytest.raises(ValueError, match=r'^y_pred holds labels outside 0\.\.2: \[3\]$'): confusion_matrix([0, 1], [0, 3], 3)
    with pytest.raises(ValueError, match=r'^y_true holds labels outside 0\.\.2: \[-1, 3\]$'): confusion_matrix([-1, 3, 3], [0, 1, 2], 3)
    np.testing.assert_array_equal(confusion_matrix(np.array([0., 2.]), np.array([2., 2.]), 3), [[0, 0, 1], [0, 0, 0], [0, 0, 1]])
    assert confusion_matrix([], [], 2).tolist() == [[0, 0], [0, 0]]


def test_per_genre_table_values():
    "Every column against the hand-computed counts of CM (catches a changed F1 formula, a dropped or renamed column, support)."
    t = per_genre_table(CM, genres=list('abcd'))
    want = pd.DataFrame(dict(precision=[5/8, 3/4, 4/5, 1/3], recall=[5/6, 3/6, 4/6, 1/2], f1=[10/14, 6/10, 8/11, 2/5],
                             support=[6, 6, 6, 2]), index=pd.Index(list('abcd'), name='genre'))
    pd.testing.assert_frame_equal(t, want, check_dtype=False)
    assert t.support.dtype.kind == 'i'


def test_paper_metrics_every_key():
    "Labels and probabilities give the same dict, with every key (catches a key dropped or renamed, or shape[1] misread)."
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3])
    pred = np.concatenate([np.repeat(np.arange(4), CM[i]) for i in range(4)])
    want = dict(top1_accuracy=top1_accuracy(CM), one_vs_rest_accuracy=one_vs_rest_accuracy(CM), macro_precision=macro_precision(CM),
                macro_recall=macro_recall(CM), paper_f1=paper_f1(CM), macro_f1=macro_f1(CM), n=20)
    assert paper_metrics(labels, pred, 4) == want
    assert paper_metrics(labels, np.eye(4)[pred]) == want                       # K taken from the probabilities' columns
    assert paper_metrics(labels, np.eye(5)[pred])['n'] == 20 and paper_metrics(labels, np.eye(5)[pred])['macro_recall'] == pytest.approx(macro_recall(CM) * 4 / 5)


def test_plot_confusion_shows_the_numbers():
    "The heat map's cells and labels: row-normalised fractions (or counts), genres on both axes, title with top-1 and clips."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ax = plot_confusion(CM, genres=list('abcd'))
    shown = ax.collections[0].get_array().reshape(4, 4)
    np.testing.assert_allclose(shown, CM / CM.sum(1, keepdims=True))
    assert [t.get_text() for t in ax.texts][:4] == ['0.83', '0.17', '0.00', '0.00']
    assert ax.collections[0].get_clim() == (0, 1)
    assert [t.get_text() for t in ax.get_xticklabels()] == list('abcd') == [t.get_text() for t in ax.get_yticklabels()]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ('predicted genre', 'true genre')
    assert ax.get_title() == 'confusion matrix (top-1 65.0%, 20 clips)'
    plt.close('all')
    ax = plot_confusion(CM, genres=list('abcd'), normalize=False, title='counts')
    np.testing.assert_array_equal(ax.collections[0].get_array().reshape(4, 4), CM)
    assert [t.get_text() for t in ax.texts][:4] == ['5', '1', '0', '0'] and ax.get_title() == 'counts'
    plt.close('all')
    empty = plot_confusion(np.zeros((2, 2), int), genres=['x', 'y'])               # no clips: zeros, not NaN
    assert np.isfinite(empty.collections[0].get_array()).all()
    plt.close('all')


def test_statistics_messages_name_their_argument():
    "The errors name the argument at fault (catches names swapped or lost) and quote the offending values."
    with pytest.raises(ValueError, match=r'^correct_a holds one correctness flag per clip'): mcnemar_exact(np.ones((2, 2)), [1, 0])
    with pytest.raises(ValueError, match=r'^correct_b holds values other than True/False \(or 1/0\): \[0 1 2\]$'):
        mcnemar_exact([1, 0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match=r'^correct_a has 2 clips but correct_b has 3'): mcnemar_exact([1, 0], [1, 0, 1])
    with pytest.raises(ValueError, match=r'^k is a count, a non-negative whole number; got 1\.5$'): wilson_interval(1.5, 3)
    with pytest.raises(ValueError, match=r'^n is a count'): wilson_interval(1, -3)
    with pytest.raises(ValueError, match=r'^k1 = 5 of n1 = 3'): two_proportion_p(5, 3, 1, 3)
    with pytest.raises(ValueError, match=r'^k2 = 1 of n2 = 0'): two_proportion_p(1, 3, 1, 0)
    assert mcnemar_exact(np.array([1, 0, 1]), np.array([1, 1, 1])) == 1.0 and mcnemar_exact([True] * 3, [1, 1, 1]) == 1.0


def test_wilson_and_two_proportion_values():
    "Exact values (catches a changed z, centre or half-width, and the pooled standard error)."
    lo, hi = wilson_interval(6, 8)
    assert (lo, hi) == pytest.approx((0.4093, 0.9285), abs=1e-4)                 # statsmodels' proportion_confint(6, 8, method='wilson')
    assert wilson_interval(0, 8)[0] == 0.0 and wilson_interval(8, 8)[1] == 1.0 and 0 < wilson_interval(0, 8)[1] < 0.4
    assert two_proportion_p(30, 100, 50, 100) == pytest.approx(0.004, abs=5e-4)
    assert two_proportion_p(50, 100, 50, 100) == pytest.approx(1.0) and two_proportion_p(0, 5, 0, 7) == 1.0


def test_top1_from_one_vs_rest_and_table_index():
    "Eq. (5) inverted: the paper's 86.84% mean one-vs-rest accuracy over 8 genres means 47.36% top-1 (catches a changed formula)."
    assert top1_from_one_vs_rest(0.8684) == pytest.approx(0.4736)
    assert top1_from_one_vs_rest(0.75, n_classes=4) == pytest.approx(0.5) and top1_from_one_vs_rest(1.0) == 1.0
    assert paper_table1().index.name == 'model'


def test_small_and_empty_cases():
    "One clip, no clips, equal precision and recall, a one-trial proportion, another confidence (each kills a surviving mutant)."
    assert top1_accuracy(np.array([[1, 0], [0, 0]])) == 1.0                       # one clip, right
    assert paper_f1(np.array([[1, 1], [1, 1]])) == 0.5                             # p = r = 0.5: p + r is not above 1
    assert top1_with_ci(np.array([], int), np.zeros((0, 3))) == dict(top1=0.0, top1_ci=[0.0, 1.0], n=0)
    assert two_proportion_p(1, 1, 0, 1) == pytest.approx(0.1573, abs=1e-4)         # n = 1 is a valid sample
    labels = np.array([0, 1, 1, 0]); s = top1_statistics(labels, dict(Mel2DCNN=np.eye(2)[[0, 1, 0, 0]]), confidence=0.8)
    assert s['Mel2DCNN']['top1_ci'] == list(wilson_interval(3, 4, 0.8))


def test_balanced_accuracy_and_macro_f1_with_bootstrap_intervals():
    "Unbalanced classes: the majority-class predictor's top-1 is its share, its balanced accuracy chance; intervals are percentile bootstraps with a fixed seed."
    from mgr_course.metrics import balanced_accuracy, balanced_metrics_with_ci
    y = np.repeat(np.arange(4), [700, 200, 80, 20]); majority = np.zeros_like(y)
    r = balanced_metrics_with_ci(y, majority, 4)
    assert top1_accuracy(confusion_matrix(y, majority, 4)) == pytest.approx(0.7)
    assert r['balanced_accuracy'] == pytest.approx(0.25) and r['macro_f1'] == pytest.approx(2*700/1700/4)
    assert r['balanced_accuracy_ci'] == pytest.approx([0.25, 0.25])            # every resample: recall 1 for the majority, 0 for the rest
    rng = np.random.default_rng(3); yt = rng.integers(0, 5, 400); yp = np.where(rng.random(400) < 0.6, yt, rng.integers(0, 5, 400))
    b = balanced_metrics_with_ci(yt, np.eye(5)[yp], n_boot=500)                 # probabilities [N, K] work as classes do
    assert b == balanced_metrics_with_ci(yt, yp, 5, n_boot=500)
    assert b['balanced_accuracy'] == pytest.approx(skm.balanced_accuracy_score(yt, yp)) and b['macro_f1'] == pytest.approx(skm.f1_score(yt, yp, average='macro'))
    for k in ('balanced_accuracy', 'macro_f1'):
        lo, hi = b[f'{k}_ci']; assert lo < b[k] < hi and 0.05 < hi - lo < 0.2, (k, lo, hi)   # about +-0.05 on 400 clips
    assert balanced_metrics_with_ci(yt, yp, 5, seed=1) != balanced_metrics_with_ci(yt, yp, 5, seed=2)
    assert balanced_accuracy(confusion_matrix([0, 0, 1], [0, 1, 1], 3)) == pytest.approx(0.75)   # class 2 is absent: left out, not a 0
