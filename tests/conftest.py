"Shared test setup: the order the README promises (chapters, then tests, then the website), and the fixtures folder."
import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent/'shared'/'fixtures'   # real FMA metadata and recordings, beside a checkout (absent in a fresh clone)

# Tests run with the chapters' small sizes (the same switch nbdev-test sets).
os.environ.setdefault('IN_TEST', '1')

def _rank(item):
    "Chapters first, the website last, every other test in between."
    name = item.nodeid
    if 'test_chapters.py' in name: return 0
    if 'test_website.py' in name: return 2
    return 1

def pytest_collection_modifyitems(session, config, items):
    items.sort(key=_rank)   # sort is stable: within a group, pytest's own order stays

@pytest.fixture(scope='session')
def fixtures_dir():
    "The shared real-format fixtures; skips the test when they are not beside this checkout."
    if not FIXTURES.is_dir(): pytest.skip(f'{FIXTURES} is absent (a fresh clone has no ../shared): real-format check skipped')
    return FIXTURES
