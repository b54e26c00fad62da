"""Data-parallel training (chapter 06b) with real processes: two against one, a process that dies, a resume with another
number of processes, and `mgr train --nproc` through torchrun. Every process and command has a timeout: nothing here can hang."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd
import pytest
from mgr_course.config import CFG
from mgr_course.data import clip_table
from mgr_course.learner import Callback, distributed_rank, load_checkpoint, load_history, train_network
from mgr_course.distributed import train_data_parallel
from mgr_course.cli import main

NAME, STEPS = 'MFCC2DCNN', 8          # IN_TEST: 27 training clips, batches of 8: 4 steps an epoch, the last one of 3 clips (shared 2 + 1)
# Dropout 0: a process draws the dropout mask of the share it holds, so two processes draw other masks than one, and the
# comparison would measure dropout, not data parallelism. Everything else (crops, noise, initial weights) is drawn the same.
CFG0 = CFG.replace(dropout=0.0)
# The tolerance on the histories' losses: the gradients agree to float rounding (relative 1e-4 at worst, in the first
# layers), and Adam turns the rounding of near-zero gradients into small steps that grow slowly: measured here, the first
# epoch's training loss differs by about 4e-4 and 8 steps by about 5e-3. Without the global-batch BatchNorm (each process
# normalising its own share) the first epoch already differs by about 9e-3 and 8 steps by about 2e-2.
TOL_FIRST, TOL = 1e-3, 1e-2
BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def fp32_one_thread(monkeypatch):
    monkeypatch.setenv('MGR_PRECISION', 'fp32')          # bf16 rounding would blur the comparison
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    monkeypatch.setenv('MGR_COLLECTIVE_TIMEOUT', '60')   # a process waits at most this long for a dead partner


@pytest.fixture(scope='module')
def clips():
    return clip_table(CFG0, progress=False)


@pytest.fixture(scope='module')
def one_process(clips, tmp_path_factory):
    "The reference: one process, the same global batch."
    os.environ['MGR_PRECISION'] = 'fp32'
    try: return train_network(NAME, CFG0, clips=clips, runs=tmp_path_factory.mktemp('one'), steps=STEPS, device='cpu', progress=False)
    finally: del os.environ['MGR_PRECISION']


def max_difference(h1, h2) -> float:
    cols = ['train_loss', 'valid_loss']          # accuracies move by whole clips (1/27 here): the losses carry the comparison
    return float((h1[cols] - h2[cols]).abs().max().max())


def test_two_processes_train_as_one(one_process, tmp_path):
    assert train_data_parallel(2, NAME, CFG0, runs=tmp_path, steps=STEPS, timeout=300) == [0, 0]
    one, two = pd.DataFrame(one_process['history']), load_history(tmp_path/NAME)
    assert two.step.tolist() == one.step.tolist() == [4, 8]
    assert two.train_loss.iloc[0] == pytest.approx(one.train_loss.iloc[0], abs=TOL_FIRST)
    assert max_difference(one, two) < TOL, (one, two)
    assert json.loads((tmp_path/NAME/'summary.json').read_text())['processes'] == 2
    assert load_checkpoint(tmp_path/NAME/'checkpoint.pt')['processes'] == 2


class SigkillAfter(Callback):
    "Kill this process outright (SIGKILL: no handler, no cleanup) after epoch `epoch`, in process `rank` only."
    order = 30                 # after rank 0's CheckpointCB has saved the epoch
    def __init__(self, epoch: int, rank: int): self.epoch, self.rank = epoch, rank
    def after_epoch(self, learn):
        if learn.epoch == self.epoch and distributed_rank()[0] == self.rank: os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_process_stops_the_other_and_the_run_resumes_with_one(one_process, clips, tmp_path, capfd):
    t0 = time.monotonic()
    codes = train_data_parallel(2, NAME, CFG0, runs=tmp_path, steps=STEPS, cbs=(SigkillAfter(1, rank=1),), timeout=240)
    err = capfd.readouterr().err
    assert codes == [1, -signal.SIGKILL], (codes, err)                    # not None: nobody was left hanging at the timeout
    assert time.monotonic() - t0 < 240
    line = next(l for l in err.splitlines() if l.startswith('process 0 of 2:'))
    assert 'another process of the job stopped' in line and 'run the same command again to resume' in line, err
    assert load_checkpoint(tmp_path/NAME/'checkpoint.pt')['epoch'] == 1
    # resumed by one process: handled, said, and the same training as the one-process run
    resumed = train_network(NAME, CFG0, clips=clips, runs=tmp_path, steps=STEPS, device='cpu', progress=False)
    assert 'trained by 2 process(es) up to epoch 1, continued by 1' in capfd.readouterr().err
    assert [r['step'] for r in resumed['history']] == [4, 8]
    assert max_difference(pd.DataFrame(one_process['history']), pd.DataFrame(resumed['history'])) < TOL


def test_mgr_train_nproc_runs_torchrun(clips, tmp_path):
    env = {**os.environ, 'MGR_PRECISION': 'fp32', 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([str(BIN/'mgr'), 'train', NAME, '--nproc', '2', '--steps', '4', '--runs', str(tmp_path)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count('run folder') == 1, r.stdout            # one report, from rank 0
    assert json.loads((tmp_path/NAME/'summary.json').read_text())['processes'] == 2


def test_a_batch_that_processes_cannot_share_is_refused(clips, tmp_path, capsys):
    with pytest.raises(SystemExit) as e: main(['train', NAME, '--nproc', '3', '--steps', '4', '--runs', str(tmp_path)])
    assert f'the batch size {CFG.batch_size} is not divisible by 3 processes' in str(e.value)
    assert not (tmp_path/NAME).exists()
