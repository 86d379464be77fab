"""LIME's locally weighted linear surrogate, solved for all targets at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Surrogate:
    """Per-target weights ``T×F``, intercepts ``T``, weighted R² ``T`` and, from the numpy solver, the
    weights' standard errors ``T×F`` (heteroskedasticity-robust, HC0)."""

    coef: np.ndarray
    intercept: np.ndarray
    r2: np.ndarray
    stderr: np.ndarray | None = None


def cosine_distance_to_original(masks: np.ndarray) -> np.ndarray:
    """Cosine distance of each binary mask row to the all-ones row (1 for an all-zero row)."""
    masks = masks.astype(np.float64)
    norms = np.linalg.norm(masks, axis=1)
    similarity = np.divide(masks.sum(axis=1), norms * np.sqrt(masks.shape[1]),
                           out=np.zeros(len(masks)), where=norms > 0)
    return 1.0 - similarity


def lime_kernel(distances: np.ndarray, kernel_width: float) -> np.ndarray:
    """LIME's exponential kernel, ``sqrt(exp(-d² / width²))``."""
    return np.sqrt(np.exp(-(distances**2) / kernel_width**2))


def fit_weighted_ridge(features: np.ndarray, responses: np.ndarray, weights: np.ndarray, alpha: float) -> Surrogate:
    """Ridge regression with an unpenalised intercept and sample weights, as scikit-learn's ``Ridge``.

    :param features: ``N×F`` (the binary masks).
    :param responses: ``N×T`` (the model's probability of each target per sample).
    :param weights: ``N`` sample weights.
    """
    x = features.astype(np.float64)
    y = responses.astype(np.float64)
    w = weights.astype(np.float64)
    total = w.sum()
    x_mean = w @ x / total
    y_mean = w @ y / total
    xc, yc = x - x_mean, y - y_mean
    xw = xc * w[:, None]
    gram = xc.T @ xw + alpha * np.eye(x.shape[1])
    inverse = np.linalg.pinv(gram)  # alpha=0 with collinear masks: the minimum-norm solution
    coef = (inverse @ (xw.T @ yc)).T
    intercept = y_mean - coef @ x_mean
    residual = yc - xc @ coef.T
    ss_res = w @ residual**2
    ss_tot = w @ yc**2
    r2 = 1.0 - np.divide(ss_res, ss_tot, out=np.zeros_like(ss_res), where=ss_tot > 0)
    stderr = np.empty_like(coef)
    for t in range(coef.shape[0]):
        scores = xc * (w * residual[:, t])[:, None]
        stderr[t] = np.sqrt(np.maximum(np.einsum("ij,jk,ki->i", inverse, scores.T @ scores, inverse), 0.0))
    return Surrogate(coef=coef, intercept=intercept, r2=r2, stderr=stderr)


def fit_weighted_ridge_torch(features: Any, responses: Any, weights: Any, alpha: float) -> Surrogate:
    """:func:`fit_weighted_ridge` on torch tensors, solved on their device in float64."""
    import torch

    x, y, w = (t.to(torch.float64) for t in (features, responses, weights))
    total = w.sum()
    x_mean = w @ x / total
    y_mean = w @ y / total
    xc, yc = x - x_mean, y - y_mean
    xw = xc * w[:, None]
    gram = xc.T @ xw + alpha * torch.eye(x.shape[1], dtype=torch.float64, device=x.device)
    coef = torch.linalg.solve(gram, xw.T @ yc).T
    intercept = y_mean - coef @ x_mean
    residual = yc - xc @ coef.T
    ss_res = w @ residual**2
    ss_tot = w @ yc**2
    r2 = torch.where(ss_tot > 0, 1.0 - ss_res / torch.where(ss_tot > 0, ss_tot, 1.0), 0.0)
    return Surrogate(coef=coef.cpu().numpy(), intercept=intercept.cpu().numpy(), r2=r2.cpu().numpy())
