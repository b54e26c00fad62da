"Each metric against a hand-computed confusion matrix and scikit-learn, the one-vs-rest identity, and edge cases."
import numpy as np
import pytest
import sklearn.metrics as skm
from mgr_course.metrics import (confusion_matrix, class_counts, one_vs_rest_accuracy, macro_precision, macro_recall,
                                paper_f1, top1_accuracy, macro_f1, paper_metrics, top1_from_one_vs_rest,
                                per_genre_table, plot_confusion, precision_per_class)

# 4 classes, hand-computed: rows true, columns predicted
CM = np.array([[5, 1, 0, 0],
               [2, 3, 1, 0],
               [0, 0, 4, 2],
               [1, 0, 0, 1]])


def test_confusion_matrix_rows_true_cols_pred():
    cm = confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


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


def test_identity_on_random_matrices():
    rng = np.random.default_rng(7)
    for _ in range(500):
        K = int(rng.integers(2, 15))
        cm = rng.integers(0, 30, (K, K)) * (rng.random((K, K)) < rng.random())
        if cm.sum() == 0: continue
        assert one_vs_rest_accuracy(cm) == pytest.approx(1 - 2 * (1 - top1_accuracy(cm)) / K, abs=1e-12)
        assert top1_from_one_vs_rest(one_vs_rest_accuracy(cm), K) == pytest.approx(top1_accuracy(cm), abs=1e-12)


def test_paper_table_mel_cnn():
    assert top1_from_one_vs_rest(0.8684, 8) == pytest.approx(0.474, abs=6e-4)


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


def test_paper_metrics_probs_and_classes_agree():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), 40); yt = rng.integers(0, 5, 40)
    assert paper_metrics(yt, probs) == paper_metrics(yt, probs.argmax(1), 5)
    assert set(paper_metrics(yt, probs)) >= {'top1_accuracy', 'one_vs_rest_accuracy', 'macro_precision', 'macro_recall', 'paper_f1', 'macro_f1'}


def test_bad_inputs():
    with pytest.raises(ValueError, match='outside'): confusion_matrix([0, 5], [0, 1], 3)
    with pytest.raises(ValueError, match='one prediction per example'): confusion_matrix([0, 1], [0], 3)
    with pytest.raises(ValueError, match='square'): one_vs_rest_accuracy(np.zeros((2, 3)))


def test_per_genre_table_and_plot():
    import matplotlib; matplotlib.use('Agg')
    t = per_genre_table(CM, genres=list('abcd'))
    assert list(t.index) == list('abcd') and t.support.tolist() == [6, 6, 6, 2]
    assert t.recall.mean() == pytest.approx(macro_recall(CM))
    ax = plot_confusion(CM, genres=list('abcd'))
    assert ax.get_xlabel() == 'predicted genre'
    plot_confusion(CM, genres=list('abcd'), normalize=False)
