"What the networks hear (chapter 08a): the bad inputs and the edge cases that would clutter the chapter."
import numpy as np
import pytest
import torch
from torch import nn
from mgr_course.interpret import (first_conv, kernel_responses, peak_frequencies, occlusion_map, embed, penultimate,
                                  knn_loo_predictions, knn_accuracy, project_2d, confused_pairs, misclassified, example_clips)

def test_kernel_responses_take_a_conv_weight_and_name_bad_shapes():
    conv = nn.Conv1d(1, 4, 64)
    f, m = kernel_responses(conv.weight, 22_050, n_fft=256)
    assert f.shape == (129,) and m.shape == (4, 129) and np.allclose(m.max(1), 1)
    with pytest.raises(ValueError, match=r'\[C, k\]'): kernel_responses(np.zeros((2, 3, 64)), 22_050)
    with pytest.raises(ValueError, match='n_fft >= 64'): kernel_responses(np.zeros((2, 64)), 22_050, n_fft=32)
    with pytest.raises(ValueError, match='no convolution'): first_conv(nn.Linear(3, 4))

def test_a_cosine_kernel_peaks_at_its_frequency():
    sr, t = 22_050, np.arange(64) / 22_050
    f, m = kernel_responses(np.cos(2 * np.pi * 5000 * t)[None], sr, n_fft=2048)
    assert abs(peak_frequencies(f, m)[0] - 5000) <= sr / 2048

def test_occlusion_is_blind_where_the_model_is_and_independent_of_the_batch():
    class Left(nn.Module):
        def __init__(self): super().__init__(); self.fc = nn.Linear(8 * 16, 4)
        def forward(self, x): return self.fc(x[:, 0, :, :16].flatten(1))
    torch.manual_seed(0); model, x = Left(), torch.randn(1, 8, 64)
    a = occlusion_map(model, x, 2, window=(4, 16), batch_size=3)
    assert a.shape == (2, 4) and a[:, 1:].abs().max() == 0 and a[:, 0].abs().max() > 0
    torch.testing.assert_close(a, occlusion_map(model, x, 2, window=(4, 16), batch_size=100))
    with pytest.raises(ValueError, match='no batch axis'): occlusion_map(model, x[None], 0)
    with pytest.raises(ValueError, match='does not tile'): occlusion_map(model, x, 0, window=(3, 16))

def test_embed_reads_the_last_linear_layer():
    m = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    e, z = embed(m, torch.randn(4, 5))
    assert e.shape == (4, 7) and z.shape == (4, 3) and penultimate(m) is m[2]
    with pytest.raises(ValueError, match='no linear layer'): penultimate(nn.ReLU())

def test_knn_and_projections_name_bad_inputs():
    emb, labels = np.random.default_rng(0).normal(size=(10, 3)), np.arange(10) % 2
    assert knn_loo_predictions(emb, labels, k=3).shape == (10,)
    assert knn_loo_predictions(np.array([[0.], [1.], [3.]]), np.array([0, 1, 1]), k=1).tolist() == [1, 0, 1]   # never its own neighbour
    r = knn_accuracy(emb, labels, k=3)
    assert r['n'] == 10 and r['top1_ci'][0] <= r['top1'] <= r['top1_ci'][1]
    with pytest.raises(ValueError, match='one label per row'): knn_loo_predictions(emb, labels[:5])
    with pytest.raises(ValueError, match='at least 11'): knn_loo_predictions(emb, labels, k=10)
    with pytest.raises(ValueError, match="'pca' or 'tsne'"): project_2d(emb, 'umap')
    assert project_2d(emb, 'tsne').shape == (10, 2)

def test_confusions_with_no_mistakes():
    labels = np.array([0, 1, 2]); probs = np.eye(3)
    assert misclassified(labels, probs, 0, 1).size == 0
    assert example_clips(labels, probs).wrong.tolist() == [-1, -1, -1]
    assert confused_pairs(np.eye(3, dtype=int) * 5, ['a', 'b', 'c']).total.tolist() == [0, 0, 0]
