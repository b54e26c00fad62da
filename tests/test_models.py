"The networks: shapes, weight counts against Table I, gradients, seeding, dropout, checkpoints, ensembles, bad inputs."
import warnings
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mgr_course.config import CFG
from mgr_course.models import (NETWORKS, Raw1DCNN, Mel2DCNN, MFCC2DCNN, LateFusionCRNN, Ensemble,
                               ConvBlock, ConvStack, GlobalPool, Classifier, StepConcat, ToSequence,
                               count_weights, layer_table, compare_weights, check_input)

NAMES = list(NETWORKS)
BATCH = 2   # the raw input is 131,072 samples per example: keep CPU cost low


def inputs(net, batch=BATCH, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, *s, generator=g) for s in net.input_shapes]


@pytest.fixture(scope='module')
def nets():
    torch.manual_seed(0)
    return {name: NETWORKS[name]() for name in NAMES}


def test_import_names():
    from mgr_course.models import Mel2DCNN as M
    assert M is Mel2DCNN and set(NAMES) == {name for name, _ in CFG.paper_weights}


@pytest.mark.parametrize('name', NAMES)
def test_output_shape(nets, name):
    net = nets[name].eval()
    with torch.no_grad(): out = net(*inputs(net))
    assert out.shape == (BATCH, CFG.n_classes) and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_input_shapes_follow_config(nets):
    assert nets['Raw1DCNN'].input_shapes == (CFG.raw_shape,)
    assert nets['Mel2DCNN'].input_shapes == (CFG.mel_shape,)
    assert nets['MFCC2DCNN'].input_shapes == (CFG.mfcc_shape,)
    assert nets['LateFusionCRNN'].input_shapes == (CFG.raw_shape, CFG.mfcc_shape)


def test_n_classes():
    net = Mel2DCNN(n_classes=3).eval()
    with torch.no_grad(): assert net(torch.randn(1, *CFG.mel_shape)).shape == (1, 3)
    assert LateFusionCRNN(n_classes=5).fc.out_features == 5


@pytest.mark.parametrize('name,paper', CFG.paper_weights)
def test_weight_counts_within_2_percent(nets, name, paper):
    ours = count_weights(nets[name])
    assert abs(ours - paper) <= 0.02 * paper, f'{name}: {ours} weights, paper {paper}'


def test_cnn_counts_exact_and_mfcc_equals_mel(nets):
    paper = dict(CFG.paper_weights)
    for name in ('Raw1DCNN', 'Mel2DCNN', 'MFCC2DCNN'): assert count_weights(nets[name]) == paper[name]
    assert count_weights(nets['MFCC2DCNN']) == count_weights(nets['Mel2DCNN'])


def test_compare_weights_table():
    t = compare_weights()
    assert list(t.index) == NAMES and (t.difference_pct.abs() <= 2).all()
    assert t.loc['LateFusionCRNN', 'ours'] == count_weights(LateFusionCRNN())


def test_count_ignores_buffers():
    bn = nn.BatchNorm2d(4)
    assert count_weights(bn) == 8 and sum(b.numel() for b in bn.buffers()) > 0


def test_map_shapes(nets):
    assert nets['Raw1DCNN'].features.map_shape == (128, 64)
    assert nets['Mel2DCNN'].features.map_shape == (128, 2, 2)        # four quadrants
    assert nets['MFCC2DCNN'].features.map_shape == (128, 1, 64)      # temporal information retained
    crnn = nets['LateFusionCRNN']
    assert crnn.raw_branch[0].map_shape == (64, 64) and crnn.mfcc_branch[0].map_shape == (64, 1, 64) and crnn.n_steps == 64


@pytest.mark.parametrize('name', NAMES)
def test_layer_table_adds_up(nets, name):
    net = nets[name].train()
    t = layer_table(net)
    assert t.weights.sum() == count_weights(net)
    assert t.output.iloc[-1] == [CFG.n_classes]
    assert net.training   # layer_table restores the mode it found


def test_layer_table_needs_shapes():
    with pytest.raises(ValueError, match='input shape'): layer_table(nn.Linear(3, 2))
    assert layer_table(nn.Linear(3, 2), (3,)).weights.sum() == 8
    t = layer_table(GlobalPool(), (4, 5, 6))   # no weights at all
    assert t.output.tolist() == [[4, 5, 6], [8]] and t.weights.sum() == 0


@pytest.mark.parametrize('name', NAMES)
def test_gradients_reach_every_weight(name):
    torch.manual_seed(1)
    net = NETWORKS[name]().train()
    F.cross_entropy(net(*inputs(net)), torch.tensor([1, 6])).backward()
    dead = [n for n, p in net.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().sum() == 0]
    assert dead == []


@pytest.mark.parametrize('name', NAMES)
def test_same_seed_same_weights(name):
    torch.manual_seed(11); a = NETWORKS[name]()
    torch.manual_seed(11); b = NETWORKS[name]()
    torch.manual_seed(12); c = NETWORKS[name]()
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize('name', NAMES)
def test_dropout_train_not_eval(nets, name):
    net, xs = nets[name], inputs(nets[name])
    with torch.no_grad():
        net.train(); assert not torch.equal(net(*xs), net(*xs))
        net.eval(); assert torch.equal(net(*xs), net(*xs))
    net.train()
    no_dropout = NETWORKS[name](dropout=0.0).train()
    with torch.no_grad(): assert torch.equal(no_dropout(*xs), no_dropout(*xs))


def test_dropout_from_config():
    cfg = CFG.replace(dropout=0.25)
    ps = {m.p for m in Mel2DCNN(cfg=cfg).modules() if isinstance(m, nn.Dropout)}
    assert ps == {0.25}
    assert LateFusionCRNN(cfg=cfg).dropout.p == 0.25


@pytest.mark.parametrize('name', NAMES)
def test_checkpoint_roundtrip(tmp_path, name):
    torch.manual_seed(2)
    net = NETWORKS[name]()
    xs = inputs(net)
    net.train(); net(*xs)   # moves BatchNorm's running statistics away from their initial values
    net.eval()
    torch.save(net.state_dict(), tmp_path/'net.pt')
    torch.manual_seed(99)
    fresh = NETWORKS[name]()
    fresh.load_state_dict(torch.load(tmp_path/'net.pt', weights_only=True)); fresh.eval()
    with torch.no_grad(): assert torch.equal(fresh(*xs), net(*xs))


def test_ensemble_of_one_is_its_softmax(nets):
    net = nets['Mel2DCNN'].eval()
    x, = inputs(net)
    with torch.no_grad(): torch.testing.assert_close(Ensemble([net])(x), net(x).softmax(-1))


def test_ensemble_of_identical_models_equals_each(nets):
    net = nets['MFCC2DCNN'].eval()
    copies = [MFCC2DCNN() for _ in range(3)]
    for c in copies: c.load_state_dict(net.state_dict()); c.eval()
    x, = inputs(net)
    with torch.no_grad(): torch.testing.assert_close(Ensemble(copies)(x), net(x).softmax(-1))


def test_ensemble_averages_probabilities():
    torch.manual_seed(4)
    a, b = Mel2DCNN().eval(), Mel2DCNN().eval()
    x = torch.randn(3, *CFG.mel_shape)
    with torch.no_grad():
        p = Ensemble([a, b])(x)
        torch.testing.assert_close(p, (a(x).softmax(-1) + b(x).softmax(-1)) / 2)
    torch.testing.assert_close(p.sum(-1), torch.ones(3))


def test_ensemble_two_inputs(nets):
    crnn = nets['LateFusionCRNN'].eval()
    xs = inputs(crnn)
    with torch.no_grad(): torch.testing.assert_close(Ensemble([crnn, crnn])(*xs), crnn(*xs).softmax(-1))


def test_ensemble_errors():
    with pytest.raises(ValueError, match='at least one member'): Ensemble([])
    a, b = Mel2DCNN(n_classes=8).eval(), Mel2DCNN(n_classes=5).eval()
    with pytest.raises(ValueError, match='disagree'), torch.no_grad(): Ensemble([a, b])(torch.randn(1, *CFG.mel_shape))


def test_paper_ensembles_are_our_networks():
    assert tuple(NETWORKS) == CFG.networks
    assert all(n in NETWORKS for _, members in CFG.ensembles for n in members)


@pytest.mark.parametrize('name,bad,expected', [
    ('Raw1DCNN', (2, 1, CFG.crop_samples), '[batch, 1, 131072]'),          # the crop before downsampling
    ('Raw1DCNN', (CFG.raw_samples,), '[batch, 1, 131072]'),                # no batch or channel axis
    ('Mel2DCNN', (2, 1, CFG.n_frames, CFG.n_mels), '[batch, 1, 128, 512]'),  # axes swapped
    ('Mel2DCNN', (2, CFG.n_mels, CFG.n_frames), '[batch, 1, 128, 512]'),   # no channel axis
    ('MFCC2DCNN', (2, *CFG.mel_shape), '[batch, 1, 20, 512]'),             # a mel spectrogram given to the MFCC network
])
def test_wrong_shape_names_expected(nets, name, bad, expected):
    with pytest.raises(ValueError) as e: nets[name](torch.randn(*bad))
    assert expected in str(e.value) and name in str(e.value) and 'got' in str(e.value)


def test_wrong_shapes_late_fusion(nets):
    crnn = nets['LateFusionCRNN']
    raw, mfcc = torch.randn(1, *CFG.raw_shape), torch.randn(1, *CFG.mfcc_shape)
    with pytest.raises(ValueError, match=r'raw input as \[batch, 1, 131072\]'): crnn(mfcc, raw)
    with pytest.raises(ValueError, match=r'MFCC input as \[batch, 1, 20, 512\]'): crnn(raw, torch.randn(1, *CFG.mel_shape))
    with pytest.raises(TypeError): crnn(raw)


def test_not_a_tensor(nets):
    with pytest.raises(ValueError, match='got ndarray'): nets['Mel2DCNN'](torch.randn(1, *CFG.mel_shape).numpy())


def test_bad_pooling_plans():
    with pytest.raises(ValueError, match='does not divide'): Mel2DCNN(pools=((4, 4), (4, 4), (4, 4), (4, 4)))
    with pytest.raises(ValueError, match='one kernel and one pooling per block'): ConvStack((1, 64), (4, 8), (3, 3), (2,))
    with pytest.raises(ValueError, match='must meet on one time axis'): LateFusionCRNN(raw_pools=(8, 8, 8, 2))
    with pytest.raises(ValueError, match='must meet on one time axis'): LateFusionCRNN(mfcc_pools=((2, 2), (2, 2), (1, 2), (1, 1)))
    with pytest.raises(ValueError, match='1D or 2D'): ConvBlock(1, 2, 3, dim=3)


@pytest.mark.parametrize('dim,k,size', [(1, 64, (100,)), (1, 8, (37,)), (1, 5, (40,)), (2, 3, (12, 20)), (2, (4, 2), (9, 10))])
def test_convblock_same_padding(dim, k, size):
    blk = ConvBlock(3, 4, k, dim).eval()
    x = torch.randn(2, 3, *size)
    ref = (nn.Conv1d if dim == 1 else nn.Conv2d)(3, 4, k, padding='same')
    ref.load_state_dict(blk.conv.state_dict())
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')   # padding='same' with an even kernel warns that it copies the input
        torch.testing.assert_close(blk(x), F.relu(blk.bn(ref(x))))


def test_global_pool_and_classifier():
    x = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(GlobalPool()(x), torch.cat([x.amax((2, 3)), x.mean((2, 3))], 1))
    assert count_weights(Classifier(256)) == 41_672


def test_sequence_layers():
    assert ToSequence()(torch.randn(2, 64, 10)).shape == (2, 10, 64)
    with pytest.raises(ValueError, match='height 1'): ToSequence()(torch.randn(2, 64, 2, 10))
    with pytest.raises(ValueError, match='same number of time steps'): StepConcat()(torch.randn(1, 4, 2), torch.randn(1, 5, 2))


def test_bf16_autocast_forward(nets):
    net = nets['Mel2DCNN'].eval()
    x, = inputs(net)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        p = Ensemble([net])(x)
    assert p.dtype == torch.float32 and torch.isfinite(p).all()
