"""Every exercise's check passes on its worked solution, fails on a typical wrong answer (saying what is wrong), and a blank
answer is not an error; every chapter's exercises name checks that exist, and every check appears in a chapter."""
import json, re
from pathlib import Path
import numpy as np
import pytest
from mgr_course.config import CFG
from mgr_course.exercises import EXERCISES, check, feedback, mismatch, solution, overfit_steps
from mgr_course.features import mel_filterbank

NBS = Path(__file__).resolve().parents[1]/'nbs'

# One typical wrong answer per exercise, written here (not taken from the library's own list of mistakes)
WRONG = {
    '02.1': 6.0, '02.2': 440 * (1 + 4 / 12), '02.3': 10 * np.log10(1 / 0.015 ** 2),
    '03.1': mel_filterbank(1024, 44_100, 40, scale='paper', norm=None).numpy(), '03.2': 512, '03.3': np.zeros(128),
    '03a.1': 0.0, '03a.2': 160,
    '04.1': 6, '04.2': (4.0, 1.5),
    '05.1': 144, '05.2': (128, 8, 2), '05.3': 41_472,
    '06.1': 0.51, '06.2': 1e-3,
    '07.1': 0.8, '07.2': 0.0588, '07.3': (0.372, 0.568),
    '07a.1': (0.7, 0.6432, 0.7580), '07a.2': [0.5, 0.5],
    '08.1': [0.4, 0.5, 0.2], '08.2': [3.8, 4.0, 2.2],
    '08a.1': 3000.0, '08a.2': 1.0, '08a.3': {'Pop', 'Rock'},
    '09.1': 0.8684, '09.2': 800,
}

def test_every_exercise_has_a_wrong_answer_here():
    assert set(WRONG) == set(EXERCISES), f"exercises without a wrong answer in this test: {set(EXERCISES) ^ set(WRONG)}"

@pytest.mark.parametrize('eid', sorted(EXERCISES))
def test_the_solution_passes(eid, capsys):
    assert feedback(eid, solution(eid)) is None
    check(eid, solution(eid)); assert capsys.readouterr().out.strip() == f'{eid}: right'

@pytest.mark.parametrize('eid', sorted(EXERCISES))
def test_a_typical_wrong_answer_fails(eid, capsys):
    msg = feedback(eid, WRONG[eid])
    assert msg, f"{eid}: the wrong answer {WRONG[eid]!r} passed"
    check(eid, WRONG[eid]); assert capsys.readouterr().out.startswith(f'{eid}: not yet: ')

@pytest.mark.parametrize('eid', sorted(EXERCISES))
def test_a_blank_answer_is_not_an_error(eid):
    msg = feedback(eid, None)
    assert msg.startswith('no answer yet') and EXERCISES[eid].question in msg

@pytest.mark.parametrize('eid', sorted(e for e, x in EXERCISES.items() if x.mistakes))
def test_a_known_mistake_is_explained(eid):
    for value, why in EXERCISES[eid].mistakes():
        msg = feedback(eid, value)
        assert msg and msg.endswith(why), (eid, value, msg)

def test_what_is_wrong_is_said():
    assert 'shape (3,)' in feedback('08.1', [0.5, 0.5])              # a shape
    assert 'off by' in feedback('02.1', 5.9)                          # a value outside the tolerance
    assert 'a str' in mismatch('four', 4)                             # a type
    assert feedback('05.2', (128, 4, 2)).endswith(EXERCISES['05.2'].hint)   # no known mistake: the hint
    with pytest.raises(KeyError, match='03.1'): check('99.1', 0)

def test_the_htk_solution_is_the_librarys_filterbank():
    "The worked solution by hand agrees with chapter 03's mel_filterbank on the HTK scale."
    np.testing.assert_allclose(solution('03.1'), mel_filterbank(1024, 44_100, 40, scale='htk', norm=None).numpy(), atol=1e-9)

def test_the_overfitting_check_measures_steps():
    assert overfit_steps(solution('06.2')) < overfit_steps(1e-4)
    assert 'positive number' in feedback('06.2', -1)

def _chapter_checks() -> dict:
    out = {}
    for nb in sorted(NBS.glob('[0-9]*.ipynb')):
        if nb.name == '11_exercises.ipynb': continue           # the checks' own chapter tries them on purpose
        for c in json.loads(nb.read_text())['cells']:
            for eid in re.findall(r"check\('([0-9a-z.]+)'", ''.join(c['source'])): out.setdefault(eid, nb.name)
    return out

def test_every_exercise_is_in_its_chapter():
    found = _chapter_checks()
    assert set(EXERCISES) <= set(found), f"exercises no chapter asks: {sorted(set(EXERCISES) - set(found))}"
    for eid, nb in found.items():
        assert eid in EXERCISES, f"{nb} checks {eid!r}, which mgr_course.exercises does not define"
        assert nb.startswith(eid.split('.')[0] + '_'), f"{eid} is asked in {nb}, not in its chapter"
