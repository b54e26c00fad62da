"Every chapter in nbs/ executes, each as its own test, with nbdev's notebook runner (IN_TEST set: small sizes)."
import os, subprocess, sys
from pathlib import Path
import pytest

NBS = Path(__file__).resolve().parents[1]/'nbs'
CHAPTERS = sorted(p.name for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))

# Each chapter runs in its own Python process (as nbdev-test's workers do), so one chapter's state cannot help or
# break another; nbdev's `test_nb` executes it from nbs/ and prints the failing cell's traceback.
RUNNER = ("import sys; from nbdev.test import test_nb; "
          "ok, secs = test_nb(sys.argv[1]); print(f'{sys.argv[1]}: {secs:.1f}s'); sys.exit(0 if ok else 1)")

def test_chapters_found():
    assert 'index.ipynb' in CHAPTERS and len(CHAPTERS) > 1, f'no chapters found in {NBS}'

@pytest.mark.chapter
@pytest.mark.parametrize('chapter', CHAPTERS)
def test_chapter(chapter):
    env = {**os.environ, 'IN_TEST': '1', 'PYTHONUNBUFFERED': '1'}
    r = subprocess.run([sys.executable, '-c', RUNNER, chapter], cwd=NBS, env=env, capture_output=True, text=True,
                       timeout=int(os.environ.get('MGR_CHAPTER_TIMEOUT', 1200)))
    if r.returncode != 0:
        pytest.fail(f'chapter nbs/{chapter} failed to execute (open it in JupyterLab and run all cells to see it):\n'
                    f'{r.stdout[-4000:]}\n{r.stderr[-8000:]}', pytrace=False)
