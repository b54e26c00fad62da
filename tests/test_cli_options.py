"""Issue 22, item 7: every subcommand and every option, given bad values of each kind (empty, negative, zero, huge, NaN/inf,
wrong type; a missing path, a file where a folder is expected, an unwritable folder). Each must end in one line that names the
option, a non-zero exit status, no traceback, and nothing written. `cli.main` runs in this process (argparse and the commands
are the same code a user's `mgr` runs; what the interpreter adds, the exit status and printing a `sys.exit` message, is checked
by the few real `mgr` processes at the end)."""
import builtins, errno, os, subprocess, sys
from pathlib import Path
import numpy as np, pytest, soundfile as sf
from mgr_course import cli
from mgr_course.config import CFG

ROOT = Path(__file__).resolve().parents[1]
MGR = [str(Path(sys.executable).parent/'mgr')]

NUMBERS = dict(empty='', negative='-1', zero='0', nan='nan', inf='inf', word='many', fraction='2.5', huge='1e12', big_int='100000',
               over='10000000000')      # a whole number above every option's upper bound (issue 22.3: before, --steps and --epochs took it)
PATHS = ('empty', 'missing', 'file', 'unwritable')


def number_cases():
    "(argv, option) for every numeric option and every kind of bad number it can be given."
    opts = [(cmd, '--steps') for cmd in ('train', 'reproduce')] + [(cmd, '--epochs') for cmd in ('train', 'reproduce')] + \
           [('generate', '--per-genre'), ('generate', '--seconds'), ('generate', '--seed')]
    valid = {('generate', '--seed'): {'zero', 'big_int'}, ('generate', '--seconds'): set(),
             **{o: {'big_int'} for o in opts if o[1] == '--steps'}}     # a seed from 0, a budget of 100,000 steps (not epochs), is valid
    return [pytest.param([cmd, opt, v], opt, id=f'{cmd}{opt}={kind}') for cmd, opt in opts for kind, v in NUMBERS.items()
            if kind not in valid.get((cmd, opt), set())]


def path_cases():
    "(argv, option, kind) for every option that takes a path, and the kinds of bad path it can be given."
    # option -> what it must be: an existing folder to read ('read'), a folder to write in ('write'), a dataset ('data'), a file
    opts = [('download', '--dest', 'write'), ('train', '--runs', 'write'), ('reproduce', '--runs', 'write'), ('reproduce', '--out', 'write'),
            *[(cmd, '--runs', 'read') for cmd in ('evaluate', 'ensemble', 'predict')],
            *[(cmd, '--data', 'data') for cmd in ('scan', 'train', 'evaluate', 'ensemble', 'reproduce')], ('predict', '--data', 'model-data'),
            ('predict', 'file', 'audio')]
    bad = dict(write=('empty', 'file', 'unwritable'), read=('empty', 'missing', 'file'), data=('empty', 'missing', 'file'),
               **{'model-data': ('empty', 'file'), 'audio': ('empty', 'missing', 'folder', 'text')})
    return [pytest.param(cmd, opt, kind, id=f'{cmd}{"-" if opt == "file" else ""}{opt}={kind}') for cmd, opt, what in opts for kind in bad[what]]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    "An empty data folder, a file, an empty folder, a text file named .mp3, and a folder that refuses every write (EROFS)."
    monkeypatch.setenv('MGR_DATA', str(tmp_path/'data'))
    monkeypatch.chdir(tmp_path)
    (tmp_path/'a_file.txt').write_text('not a folder\n'); (tmp_path/'folder').mkdir(); (tmp_path/'song.mp3').write_text('lyrics\n')
    t = np.arange(2 * CFG.crop_samples) / CFG.sample_rate
    sf.write(tmp_path/'song.wav', (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), CFG.sample_rate)
    ro = (tmp_path/'ro').absolute(); ro.mkdir()                     # a read-only folder: there, and refusing every write
    real_open, real_mkdir = builtins.open, os.mkdir
    def refuse(f):
        if isinstance(f, (str, os.PathLike)) and Path(os.path.abspath(f)).is_relative_to(ro): raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(f))
    def open_(f, mode='r', *a, **k):
        if any(c in mode for c in 'wax+'): refuse(f)
        return real_open(f, mode, *a, **k)
    def mkdir(f, *a, **k): refuse(f); return real_mkdir(f, *a, **k)
    monkeypatch.setattr(builtins, 'open', open_); monkeypatch.setattr(os, 'mkdir', mkdir)
    before = sorted(tmp_path.rglob('*'))
    yield tmp_path
    assert sorted(tmp_path.rglob('*')) == before, 'a refused command wrote something'


def refused(argv, capsys) -> str:
    "Run `mgr argv` in this process: it must exit non-zero with one line and no traceback; returns the line."
    with pytest.raises(SystemExit) as e: cli.main(argv)
    code, out = e.value.code, capsys.readouterr()
    line = (code if isinstance(code, str) else out.err).strip()       # sys.exit('...') prints its message as the process ends
    assert code not in (0, None), argv
    assert 'Traceback' not in out.err and len(line.splitlines()) == 1, (argv, line, out.err)
    assert line.startswith(f'mgr {argv[0]}') or line.startswith('mgr:'), line
    return line


@pytest.mark.parametrize('argv, option', number_cases())
def test_bad_numbers(argv, option, sandbox, capsys):
    line = refused(argv, capsys)
    assert f'argument {option}' in line, line


def test_number_messages_give_the_allowed_range(sandbox, capsys):
    "Issue 22 item 3: more clips per genre than the generator can make, and a negative seed, say the option and its range."
    lo, hi = cli._synthetic_limits()
    assert f'from {lo} to {hi:,} ({len(CFG.genres)} genres share' in refused(['generate', '--per-genre', str(hi + 1)], capsys)   # before: NumPy's "larger sample than population"
    assert f'--seed: -1 is not a whole number from 0 to {cli.MAX_SEED:,}' in refused(['generate', '--seed', '-1'], capsys)
    assert f'from {CFG.crop_seconds:g}' in refused(['generate', '--seconds', '1'], capsys)


@pytest.mark.parametrize('argv, message', [
    (['train', '--steps', '1000001'], f'--steps: 1000001 is not a whole number from 1 to 1,000,000 (more is a slip, not a budget: the default is {CFG.train_steps})'),
    (['reproduce', '--steps', '10000000'], '--steps: 10000000 is not a whole number from 1 to 1,000,000 (more is a slip'),
    (['train', '--epochs', '1001'], f"--epochs: 1001 is not a whole number from 1 to 1,000 (more is a slip, not a budget: the paper trains {CFG.paper_epochs})"),
    (['generate', '--seed', str(2**32)], '--seed: 4294967296 is not a whole number from 0 to 4,294,967,295 (the largest 32-bit seed)')])
def test_upper_bounds_say_the_range_and_why(argv, message, sandbox, capsys):
    "Issue 22.3: a budget or seed too large for what it controls is refused where it is parsed, with the range and the reason (before: accepted)."
    assert message in refused(argv, capsys)
    ok = [argv[0], argv[1], str(cli.MAX_STEPS if argv[1] == '--steps' else cli.MAX_EPOCHS if argv[1] == '--epochs' else cli.MAX_SEED)]
    assert cli.parser().parse_args(ok).command == argv[0]          # the bound itself is allowed


PATH_VALUE = dict(empty='', missing='missing', file='a_file.txt', folder='folder', text='song.mp3', unwritable='ro/sub')


@pytest.mark.parametrize('cmd, option, kind', path_cases())
def test_bad_paths(cmd, option, kind, sandbox, capsys):
    value = PATH_VALUE[kind]
    argv = [cmd, value] if option == 'file' else [cmd, option, value] + (['song.wav'] if cmd == 'predict' else [])
    line = refused(argv, capsys)
    named = f'argument {option}' in line or option in line or (value and value in line)
    assert named, line


@pytest.mark.parametrize('argv, what', [(['train', 'VGG16'], 'VGG16'), (['evaluate', 'VGG16'], 'VGG16'), (['ensemble', 'Ensemble9'], 'Ensemble9'),
                                        (['evaluate', '--split', 'dev'], '--split'), (['ensemble', '--crops', 'some'], '--crops'),
                                        (['download', '--subset', 'huge'], '--subset'), (['download', '--subset', ''], '--subset'),
                                        (['predict', 'song.wav', '--model', 'Bogus'], "'Bogus' is neither"), (['predict', 'song.wav', '--model', ''], "'' is neither"),
                                        (['bogus'], 'COMMAND'), (['train', '--steps'], '--steps')])
def test_bad_names_and_choices(argv, what, sandbox, capsys):
    assert what in refused(argv, capsys)


def test_MGR_DATA_pointing_at_a_file(sandbox, capsys, monkeypatch):
    monkeypatch.setenv('MGR_DATA', str(sandbox/'a_file.txt'))
    assert 'MGR_DATA=' in refused(['generate'], capsys)


def test_download_help_names_the_mirror_variable(capsys):
    with pytest.raises(SystemExit): cli.main(['download', '--help'])
    assert 'MGR_FMA_URL' in capsys.readouterr().out                                         # before: not mentioned


@pytest.mark.parametrize('argv', [('generate', '--per-genre', '100000'), ('generate', '--seed', '-1'), ('predict', ''),
                                  ('train', '--runs', 'a_file.txt')])
def test_as_a_user_runs_it(argv, tmp_path):
    "A real `mgr` process: exit status 2, one line on stderr naming the option, nothing written."
    (tmp_path/'a_file.txt').write_text('x\n')
    r = subprocess.run([*MGR, *argv], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                       env={**os.environ, 'IN_TEST': '1', 'MGR_DATA': str(tmp_path/'data')})
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and 'Traceback' not in r.stderr, r.stderr
    assert f'argument {argv[1] if argv[1].startswith("--") else "file"}' in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a_file.txt']
