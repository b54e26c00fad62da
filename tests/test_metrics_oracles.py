"""The two figures of chapter 07 as a reader sees them: the colour scale, the labels' angle and size, the whiskers, the chance
line and the axis in percent. Written against the mutants `make mutants` left alive in `mgr_course/metrics.py` (README,
"Mutation testing"); each test names the mutations it catches."""
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np
import pytest
from mgr_course.metrics import plot_confusion, plot_top1_ci, wilson_interval

CM = np.array([[5, 1, 0, 0], [2, 3, 1, 0], [0, 0, 4, 2], [1, 0, 0, 1]])


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close('all')


@pytest.mark.parametrize('genres', [list('abcd'), [f'genre {i}' for i in range(6)]])
def test_confusion_figure_grows_with_the_genres(genres):
    "0.6 inch a column and 0.5 a row plus margins, one square cell per pair, no colour bar (catches a changed size or layout)."
    K = len(genres)
    cm = np.arange(K * K).reshape(K, K)
    ax = plot_confusion(cm, genres=genres)
    assert tuple(ax.figure.get_size_inches()) == pytest.approx((0.6 * K + 2, 0.5 * K + 1.5))
    assert ax.get_aspect() == 1.0 and ax.figure.axes == [ax]                     # square cells, no colour bar beside them


def test_confusion_colours_and_labels():
    "Blues from 0 to 1 for fractions and from the smallest to the largest count otherwise; the numbers at 10 points; genre names"
    " upright on the left and at 45 degrees below, anchored at their right end under their column (catches each of those changed)."
    ax = plot_confusion(CM, genres=list('abcd'))
    mesh = ax.collections[0]
    assert mesh.get_cmap().name == 'Blues' and mesh.get_clim() == (0, 1)
    assert {t.get_fontsize() for t in ax.texts} == {10}
    assert {t.get_rotation() for t in ax.get_yticklabels()} == {0}
    x = ax.get_xticklabels()
    assert {t.get_rotation() for t in x} == {45} and {t.get_ha() for t in x} == {'right'} and {t.get_rotation_mode() for t in x} == {'anchor'}
    counts = plot_confusion(CM, genres=list('abcd'), normalize=False)
    assert counts.collections[0].get_clim() == (0, 5)
    assert plot_confusion(CM, genres=list('abcd'), cmap='Greens').collections[0].get_cmap().name == 'Greens'


def test_confusion_draws_into_the_axes_given():
    fig, ax = plt.subplots()
    assert plot_confusion(CM, genres=list('abcd'), ax=ax) is ax and len(fig.axes) == 1 and len(plt.get_fignums()) == 1


def test_top1_figure_whiskers_are_the_intervals():
    "Each row's whisker spans its interval exactly, with caps, dots without a joining line, 0.4 inch a row (catches whiskers"
    " measured from the wrong end, caps or dots dropped, a changed size)."
    ci = [wilson_interval(50, 100), wilson_interval(25, 100), wilson_interval(7, 40)]
    ax = plot_top1_ci(['a', 'b', 'c'], [0.5, 0.25, 7 / 40], ci)
    assert tuple(ax.figure.get_size_inches()) == pytest.approx((6, 0.4 * 3 + 1.2))
    (dots, caps, (whiskers,)), = [c.lines for c in ax.containers]
    assert dots.get_marker() == 'o' and dots.get_linestyle() == 'None'
    segments = sorted((s[0, 1], *s[:, 0]) for s in whiskers.get_segments())            # (row, left end, right end)
    np.testing.assert_allclose(segments, [(y, lo, hi) for y, (lo, hi) in zip([0, 1, 2], ci[::-1])])
    assert len(caps) == 2 and all(c.get_markersize() == 8 for c in caps)      # capsize 4 points: 8-point cap lines
    assert sorted(caps[0].get_xdata()) == pytest.approx(sorted(lo for lo, _ in ci))


def test_top1_figure_chance_line_percent_axis_and_title():
    "A dotted grey line at chance, named with its value in the legend; the x axis in whole percent; the title (catches each changed)."
    ax = plot_top1_ci(['a', 'b'], [0.5, 0.25], [wilson_interval(50, 100), wilson_interval(25, 100)], chance=0.125)
    chance, = ax.lines[-1:]
    assert chance.get_xdata() == [0.125, 0.125] and chance.get_linestyle() == ':' and chance.get_color() == 'grey'
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ['chance (12.5%)'] and legend._loc == 0   # loc 'best'
    fmt = ax.xaxis.get_major_formatter()
    assert fmt(0.5) == '50%' and fmt(0.125) == '12%'
    assert ax.get_title() == 'top-1 accuracy with 95% intervals'
    plain = plot_top1_ci(['a'], [0.5], [wilson_interval(50, 100)], title='mine')
    assert plain.get_legend() is None and plain.get_title() == 'mine' and len(plain.lines) == 0 or all(
        l.get_linestyle() != ':' for l in plain.lines)


def _sklearn_bootstrap(yt, yp, n_boot, seed, confidence):
    "The percentile-bootstrap intervals computed independently: scikit-learn's scores on each resample of clips (the same draws)."
    import sklearn.metrics as skm
    idx = np.random.default_rng(seed).integers(0, len(yt), (n_boot, len(yt)))
    ba = [skm.balanced_accuracy_score(yt[i], yp[i]) for i in idx]
    f1 = [skm.f1_score(yt[i], yp[i], average='macro') for i in idx]      # over the classes present in the resample, as ours
    q = [(1 - confidence) / 2, (1 + confidence) / 2]
    return np.quantile(ba, q), np.quantile(f1, q)


@pytest.mark.parametrize('confidence', [0.95, 0.8])
def test_balanced_intervals_match_scikit_learn_on_every_resample(confidence):
    """Unbalanced labels with a rare class (support 1 in many resamples) and a classifier that over-predicts one class
    (precision != recall), scored without a warning. Catches: F1's predicted counts taken from the wrong axis (F1 = recall),
    a class of support 1 left out of the recall mean, `support - predicted` in F1's guard, the interval's quantiles moved
    ((1 - c) * 2, / 3), resamples drawn from index 1, the default seed or resample count changed, a warning left on."""
    import warnings
    from mgr_course.metrics import balanced_metrics_with_ci
    rng = np.random.default_rng(7)
    yt = np.r_[np.zeros(30, int), np.ones(12, int), np.full(6, 2), [3]]
    yp = np.where(rng.random(len(yt)) < 0.6, yt, 0)                                   # errors go to class 0
    ba_ci, f1_ci = _sklearn_bootstrap(yt, yp, 1000, 0, confidence)
    with warnings.catch_warnings():
        warnings.simplefilter('error')                                                  # 0/0 of an absent class must stay silent
        r = balanced_metrics_with_ci(yt, yp, 4, confidence=confidence)                  # the defaults: 1,000 resamples, seed 0
    assert r['balanced_accuracy_ci'] == pytest.approx(ba_ci) and r['macro_f1_ci'] == pytest.approx(f1_ci)


def test_balanced_metrics_infer_the_classes_from_predicted_classes():
    "Predicted classes [N] and no n_classes: K is the largest class seen + 1 (catches K - 1, K + 2: an absent class scored 0 in macro-F1)."
    import sklearn.metrics as skm
    from mgr_course.metrics import balanced_metrics_with_ci, balanced_accuracy, confusion_matrix
    yt, yp = np.array([0, 0, 1, 1, 2, 2, 2]), np.array([0, 1, 1, 1, 2, 0, 2])
    r = balanced_metrics_with_ci(yt, yp, n_boot=50)
    assert r['macro_f1'] == pytest.approx(skm.f1_score(yt, yp, average='macro'))
    assert r['balanced_accuracy'] == pytest.approx(skm.balanced_accuracy_score(yt, yp))
    assert balanced_accuracy(np.zeros((3, 3), int)) == 0.0                              # no clip at all: 0, not a perfect score


def test_balanced_metrics_take_the_classes_from_the_probabilities():
    "Probabilities [N, 4] whose class 3 never occurs: 4 classes, the absent one scored 0 in macro-F1 as scikit-learn's labels=range(4) does (catches K read from the labels instead)."
    import sklearn.metrics as skm
    from mgr_course.metrics import balanced_metrics_with_ci
    yt, yp = np.array([0, 0, 1, 1, 2, 2, 2]), np.array([0, 1, 1, 1, 2, 0, 2])
    r = balanced_metrics_with_ci(yt, np.eye(4)[yp], n_boot=50)
    assert r['macro_f1'] == pytest.approx(skm.f1_score(yt, yp, labels=range(4), average='macro', zero_division=0))
    assert r['macro_f1'] < skm.f1_score(yt, yp, average='macro')
