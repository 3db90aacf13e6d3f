"""SILog loss against a hand-written NumPy reference."""

import math

import numpy as np
import pytest
import torch

from xnet_edge.train import silog_loss, valid_depth_mask


def _numpy_silog(pred, gt, lam, scale):
    d = np.log(pred) - np.log(gt)
    return scale * math.sqrt(np.mean(d ** 2) - lam * np.mean(d) ** 2)


def test_silog_matches_hand_computed_values():
    pred = torch.tensor([1.0, 2.0, 4.0, 0.5]).view(1, 1, 2, 2)
    gt = torch.tensor([2.0, 2.0, 2.0, 1.0]).view(1, 1, 2, 2)
    # d = log(pred/gt) = [-ln2, 0, ln2, -ln2]; mean(d^2) = 3 ln2^2 / 4; mean(d) = -ln2 / 4
    ln2 = math.log(2.0)
    expected = 10 * math.sqrt(3 * ln2 ** 2 / 4 - 0.85 * (ln2 / 4) ** 2)
    assert silog_loss(pred, gt).item() == pytest.approx(expected, rel=1e-6)


def test_silog_matches_numpy_reference_with_mask():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 9.0, (2, 1, 8, 12)).astype(np.float32)
    pred = (gt * rng.uniform(0.7, 1.4, gt.shape)).astype(np.float32)
    gt[0, 0, :2] = 0.0  # invalid rows
    gt[1, 0, 3, 3] = np.inf
    mask = valid_depth_mask(torch.from_numpy(gt), 1e-3, 10.0)
    got = silog_loss(torch.from_numpy(pred), torch.from_numpy(gt), mask, variance_focus=0.5, scale=1.0)
    m = mask.numpy()
    assert m.sum() == gt.size - 24 - 1
    assert got.item() == pytest.approx(_numpy_silog(pred[m], gt[m], 0.5, 1.0), rel=1e-5)


def test_silog_fully_scale_invariant_with_lambda_one():
    gt = torch.rand(1, 1, 6, 6) * 5 + 0.5
    pred = gt * (torch.rand_like(gt) * 0.5 + 0.75)
    a = silog_loss(pred, gt, variance_focus=1.0)
    b = silog_loss(pred * 3.7, gt, variance_focus=1.0)
    assert a.item() == pytest.approx(b.item(), rel=1e-4)
    # with lambda < 1 a global scale error is penalised
    assert silog_loss(pred * 3.7, gt).item() > silog_loss(pred, gt).item()


def test_silog_zero_for_perfect_prediction_and_gradients_flow():
    gt = torch.rand(1, 1, 4, 4) + 1
    pred = gt.clone().requires_grad_(True)
    loss = silog_loss(pred, gt)
    assert loss.item() < 1e-4
    loss.backward()
    assert torch.isfinite(pred.grad).all()


def test_silog_empty_mask_gives_attached_zero():
    pred = torch.ones(1, 1, 2, 2, requires_grad=True)
    loss = silog_loss(pred, torch.zeros(1, 1, 2, 2))
    assert loss.item() == 0.0 and loss.requires_grad


def test_valid_depth_mask_caps():
    gt = torch.tensor([0.0, 0.05, 1.0, 10.0, 10.5, float("nan")])
    assert valid_depth_mask(gt, 0.1, 10.0).tolist() == [False, False, True, True, False, False]


def _numpy_log_gradient(pred, gt, mask, scales):
    d = np.where(mask, np.log(pred) - np.log(gt), 0.0)
    total = 0.0
    for k in range(scales):
        dk, mk = d[::2 ** k, ::2 ** k], mask[::2 ** k, ::2 ** k]
        for diff, both in ((np.diff(dk, axis=1), mk[:, 1:] & mk[:, :-1]), (np.diff(dk, axis=0), mk[1:] & mk[:-1])):
            if both.any():
                total += np.abs(diff)[both].mean()
    return total


def test_log_gradient_loss_matches_numpy_and_ignores_global_scale():
    from xnet_edge.train.losses import log_gradient_loss

    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 8.0, (12, 16))
    pred = gt * rng.uniform(0.7, 1.3, gt.shape)
    mask = rng.random(gt.shape) > 0.2
    t = lambda a: torch.tensor(a).view(1, 1, *a.shape)  # noqa: E731
    got = log_gradient_loss(t(pred), t(gt), t(mask), scales=3)
    assert float(got) == pytest.approx(_numpy_log_gradient(pred, gt, mask, 3), rel=1e-9)
    # a prediction right up to one global scale costs nothing; SILog with lambda < 1 still charges the scale
    scaled = log_gradient_loss(t(gt * 3.7), t(gt), t(mask))
    assert float(scaled) == pytest.approx(0.0, abs=1e-12)
    assert float(silog_loss(t(gt * 3.7), t(gt), t(mask))) > 1.0


def test_loss_and_metrics_count_the_same_pixels():
    values = [0.0, -1.0, 0.1, 0.05, 1.0, 10.0, 10.5, float("nan"), float("inf")]
    expected = [False, False, True, False, True, True, False, False, False]
    tensor = valid_depth_mask(torch.tensor(values), 0.1, 10.0)
    assert tensor.dtype == torch.bool and tensor.tolist() == expected
    assert valid_depth_mask(np.array(values), 0.1, 10.0).tolist() == expected
    inside = [True] * 5 + [False] * 4
    assert valid_depth_mask(torch.tensor(values), 0.1, None, mask=torch.tensor(inside)).tolist() == \
        valid_depth_mask(np.array(values), 0.1, None, mask=np.array(inside)).tolist() == \
        [False, False, True, False, True, False, False, False, False]
