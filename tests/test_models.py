"The networks beyond what chapter 05 shows: the registry with a network of our own, configs, bad inputs, strides, channels-last, ensembles."
import math
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mgr_course.config import CFG
from mgr_course.features import MFCC, RawAndMFCC
from mgr_course.models import (NETWORKS, NetworkSpec, register_network, network_names, build_model, GenreClassifier,
                               Raw1DCNN, Mel2DCNN, MFCC2DCNN, LateFusionCRNN, Ensemble, ConvBlock, ConvStack,
                               count_weights, layer_table, compare_weights, GlobalPool)

BATCH = 2   # the raw input is 131,072 samples per example: keep CPU cost low


def inputs(net, batch=BATCH, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, *s, generator=g) for s in net.input_shapes]


@pytest.fixture(scope='module')
def nets():
    torch.manual_seed(0)
    return {name: spec.cls() for name, spec in NETWORKS.items()}


def test_register_build_train_and_unregister_a_network(tmp_path):
    "A network of our own, registered in two lines, goes through build_model, training steps and evaluation like the paper's."
    try:
        @register_network('mfcc', name='TinyMFCCNet')
        class Tiny(nn.Module):
            def __init__(self, n_classes=None, cfg=None):
                super().__init__()
                cfg = cfg or CFG
                self.body = nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, padding=1),
                                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, n_classes or cfg.n_classes))
            def forward(self, x): return self.body(x)

        assert network_names()[-1] == 'TinyMFCCNet' and network_names()[:4] == ('Raw1DCNN', 'Mel2DCNN', 'MFCC2DCNN', 'LateFusionCRNN')
        assert NETWORKS['TinyMFCCNet'] == NetworkSpec('TinyMFCCNet', Tiny, 'mfcc', None, 1.0)
        assert 'TinyMFCCNet' not in compare_weights().index   # not in Table I
        torch.manual_seed(0)
        model = build_model('TinyMFCCNet')
        assert isinstance(model.frontend, MFCC) and isinstance(model.net, Tiny) and (model.name, model.input) == ('TinyMFCCNet', 'mfcc')
        y = torch.arange(8) % CFG.n_classes
        x = torch.randn(8, 1, 2**14) * 0.01 * 2.0 ** y[:, None, None]   # each class its own loudness; a short waveform: the net takes any MFCC length
        opt = torch.optim.Adam(model.parameters(), lr=3e-2)
        losses = []
        for _ in range(20):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(); loss.backward(); opt.step(); losses.append(loss.item())
        assert losses[-1] < 0.7 * losses[0], losses
        with torch.no_grad(): assert model.eval()(x).shape == (8, CFG.n_classes)
        # ...and with no edit anywhere else, the trainer, the evaluation and the command line take it
        from mgr_course.data import clip_table
        from mgr_course.learner import train_network, load_trained
        from mgr_course.evaluation import evaluate
        from mgr_course.cli import parser
        clips = clip_table(progress=False)
        s = train_network('TinyMFCCNet', clips=clips, runs=tmp_path, steps=4, device='cpu', progress=False)
        assert s['steps'] == 4 and s['history'][-1]['train_loss'] > 0
        r = evaluate(load_trained(tmp_path/'TinyMFCCNet', name='TinyMFCCNet'), clips, 'validation', progress=False)
        assert r['n'] == (clips.split == 'validation').sum() and 0 <= r['top1_accuracy'] <= 1
        train_help = next(a for a in parser()._subparsers._group_actions[0].choices['train']._actions if a.dest == 'names').help
        assert 'TinyMFCCNet' in train_help
    finally:
        NETWORKS.pop('TinyMFCCNet', None)
    assert network_names() == ('Raw1DCNN', 'Mel2DCNN', 'MFCC2DCNN', 'LateFusionCRNN')


def test_registry_matches_config_and_inputs():
    assert all(n in NETWORKS for _, members in CFG.ensembles for n in members)
    assert {n: s.input for n, s in NETWORKS.items()} == {'Raw1DCNN': 'raw', 'Mel2DCNN': 'mel', 'MFCC2DCNN': 'mfcc', 'LateFusionCRNN': 'raw+mfcc'}
    assert {n: s.budget for n, s in NETWORKS.items()} == {'Raw1DCNN': 1.0, 'Mel2DCNN': 1.0, 'MFCC2DCNN': 1.0, 'LateFusionCRNN': 0.5}
    from mgr_course.metrics import PAPER_TABLE1      # the paper's Table I, as the metrics chapter copied it
    assert {n: s.paper_weights for n, s in NETWORKS.items()} == {r[0]: r[1] for r in PAPER_TABLE1 if r[1] is not None}


def test_register_errors():
    with pytest.raises(ValueError, match='raw, mel, mfcc, raw\\+mfcc'): register_network('stft')
    with pytest.raises(ValueError, match='positive'): register_network('raw', budget=-1)
    with pytest.raises(ValueError, match='choose one of Raw1DCNN, Mel2DCNN'): build_model('ResNet50')


def test_build_model_follows_config():
    cfg = CFG.replace(genres=CFG.genres[:3], dropout=0.25)
    model = build_model('LateFusionCRNN', cfg)
    assert isinstance(model.frontend, RawAndMFCC) and model.net.fc.out_features == 3 and model.net.dropout.p == 0.25
    assert {m.p for m in build_model('Mel2DCNN', cfg).modules() if isinstance(m, nn.Dropout)} == {0.25}


def test_input_shapes_follow_config(nets):
    assert nets['Raw1DCNN'].input_shapes == (CFG.raw_shape,)
    assert nets['Mel2DCNN'].input_shapes == (CFG.mel_shape,)
    assert nets['MFCC2DCNN'].input_shapes == (CFG.mfcc_shape,)
    assert nets['LateFusionCRNN'].input_shapes == (CFG.raw_shape, CFG.mfcc_shape)


def test_no_dropout_is_deterministic_in_train_mode(nets):
    for name, spec in NETWORKS.items():
        net = spec.cls(dropout=0.0).train()
        xs = inputs(net)
        with torch.no_grad(): assert torch.equal(net(*xs), net(*xs)), name


def test_stride_one_and_eight_same_weights_and_map():
    lit, strided = Raw1DCNN(stride=1, pools=(8, 8, 8, 4)), Raw1DCNN()
    assert count_weights(lit) == count_weights(strided) == 158_106 and lit.features.map_shape == strided.features.map_shape == (128, 64)
    assert strided.features[1].conv.stride == (8,) and all(b.conv.stride == (1,) for b in lit.features if isinstance(b, ConvBlock))
    a, b = LateFusionCRNN(raw_stride=1, raw_pools=(8, 8, 8, 4)), LateFusionCRNN()
    assert count_weights(a) == count_weights(b) and a.n_steps == b.n_steps == 64
    assert 'stride 8' in layer_table(strided).kind.iloc[2]


@pytest.mark.parametrize('dim,k,s,size', [(1, 64, 8, (128,)), (1, 8, 2, (40,)), (1, 5, 5, (25,)), (2, 3, 2, (12, 20)), (2, (4, 2), 2, (8, 10))])
def test_strided_convblock_is_tf_same(dim, k, s, size):
    "A strided block pads k - s in all, the odd one on the right (TensorFlow's 'same'), and shortens a length s divides to exactly length / s."
    blk = ConvBlock(3, 4, k, dim, stride=s).eval()
    x = torch.randn(2, 3, *size)
    ks = (k,) * dim if isinstance(k, int) else k
    pad = [q for kk in reversed(ks) for q in ((kk - s) // 2, kk - s - (kk - s) // 2)]
    ref = (F.conv1d if dim == 1 else F.conv2d)(F.pad(x, pad), blk.conv.weight, blk.conv.bias, stride=s)
    with torch.no_grad():
        out = blk(x)
        torch.testing.assert_close(out, F.relu(blk.bn(ref)))
    assert out.shape[2:] == tuple(n // s for n in size)


def test_bad_pooling_plans():
    with pytest.raises(ValueError, match='does not divide'): Mel2DCNN(pools=((4, 4), (4, 4), (4, 4), (4, 4)))
    with pytest.raises(ValueError, match='does not divide'): Raw1DCNN(pools=(3, 4, 4, 4))
    with pytest.raises(ValueError, match='stride of 3 does not divide'): Raw1DCNN(stride=3)
    with pytest.raises(ValueError, match='skips input'): ConvBlock(1, 2, 3, dim=1, stride=4)
    with pytest.raises(ValueError, match='one kernel and one pooling per block'): ConvStack((1, 64), (4, 8), (3, 3), (2,))
    with pytest.raises(ValueError, match='must meet on one time axis'): LateFusionCRNN(raw_pools=(4, 4, 4, 2))
    with pytest.raises(ValueError, match='must meet on one time axis'): LateFusionCRNN(mfcc_pools=((2, 2), (2, 2), (1, 2), (1, 1)))
    with pytest.raises(ValueError, match='1D or 2D'): ConvBlock(1, 2, 3, dim=3)


@pytest.mark.parametrize('name', ['MFCC2DCNN', 'LateFusionCRNN'])
def test_channels_last_same_result_and_layout(name):
    torch.manual_seed(0)
    model = build_model(name).eval()
    x = torch.randn(2, 1, CFG.crop_samples) * 0.1
    layouts = []
    def record(m, args, out): layouts.append(out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous())
    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad(): ref = model(x)
        assert not model.is_channels_last and layouts == [False] * 4
        layouts.clear()
        model.to(memory_format=torch.channels_last)   # converted the plain PyTorch way: the classifier sees it
        assert model.is_channels_last
        with torch.no_grad(): torch.testing.assert_close(model(x), ref, atol=1e-4, rtol=1e-4)
        assert layouts == [True] * 4   # every 2D convolution computed its map channels-last
    finally:
        for h in hooks: h.remove()


def test_raw_network_is_never_channels_last():
    model = build_model('Raw1DCNN').channels_last()
    assert not model.is_channels_last


def test_count_ignores_buffers():
    bn = nn.BatchNorm2d(4)
    assert count_weights(bn) == 8 and sum(b.numel() for b in bn.buffers()) > 0


def test_layer_table_needs_shapes():
    with pytest.raises(ValueError, match='input shape'): layer_table(nn.Linear(3, 2))
    assert layer_table(nn.Linear(3, 2), (3,)).weights.sum() == 8
    t = layer_table(GlobalPool(), (4, 5, 6))   # no weights at all
    assert t.output.tolist() == [[4, 5, 6], [8]] and t.weights.sum() == 0


def test_ensemble_stands_for_logits_and_stays_finite():
    a, b = nn.Linear(3, 4), nn.Linear(3, 4)
    with torch.no_grad():
        a.weight.fill_(0); a.bias.copy_(torch.tensor([500., 0, -500, 0])); b.weight.fill_(0); b.bias.copy_(torch.tensor([-500., 0, 500, 0]))
        out = Ensemble([a, b])(torch.randn(2, 3))
    assert torch.isfinite(out).all()   # each member puts ~0 probability where the other puts ~1
    torch.testing.assert_close(out.softmax(-1), torch.tensor([[.5, 0, .5, 0]]).expand(2, 4))
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(2))
    assert Ensemble([a, b]).names == ['Linear', 'Linear'] and Ensemble([a], names=['a']).names == ['a']


def test_ensemble_two_inputs(nets):
    crnn = nets['LateFusionCRNN'].eval()
    xs = inputs(crnn)
    with torch.no_grad(): torch.testing.assert_close(Ensemble([crnn, crnn])(*xs).exp(), crnn(*xs).softmax(-1))


def test_ensemble_errors():
    with pytest.raises(ValueError, match='at least one member'): Ensemble([])
    with pytest.raises(ValueError, match='one name per member'): Ensemble([nn.Linear(2, 2)], names=['a', 'b'])
    a, b = Mel2DCNN(n_classes=8).eval(), Mel2DCNN(n_classes=5).eval()
    with pytest.raises(ValueError, match='disagree'), torch.no_grad(): Ensemble([a, b])(torch.randn(1, *CFG.mel_shape))


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


def test_bf16_autocast_forward_is_close_to_float32(nets):
    "Under bf16 autocast the logits stay within 2% of their spread across genres of float32's (measured: about 0.3%);"
    " catches a bf16 path that computes something else (a layer skipped, weights not cast back, a wrong dtype chain)."
    for name in ('Mel2DCNN', 'MFCC2DCNN'):
        net = nets[name].eval()
        x, = inputs(net)
        with torch.no_grad():
            want = net(x).float()
            with torch.autocast('cpu', dtype=torch.bfloat16):
                got = net(x)
                out = Ensemble([net])(x)
        spread = (want - want.mean(1, keepdim=True)).abs().max()
        assert (got.float() - want).abs().max() <= 0.02 * spread, (name, (got.float() - want).abs().max(), spread)
        assert out.dtype == torch.float32 and torch.isfinite(out).all()               # the ensemble hands back float32
        torch.testing.assert_close(out.exp().sum(1), torch.ones(len(out)), atol=1e-3, rtol=0)
