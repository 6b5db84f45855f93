"""The numerical core of `LinearHead`: a preconditioned L-BFGS fit of linear logits to embeddings.

Plain L-BFGS on raw embeddings is slow: CNN and CLIP embeddings share a large mean direction and
have a steep spectrum, so the problem is badly conditioned (hundreds of iterations per fit). Two
exact reparametrisations fix most of it without changing the solution:

* centre the embeddings (the shift is absorbed by the unpenalised bias);
* write ``W = W0 + (V * s) @ Q.T`` where ``Q`` are the eigenvectors of the centred Gram matrix
  and ``s = 1 / sqrt(curvature * eigenvalue + 1/C)`` a diagonal preconditioner. The ridge
  ``||W - W0||^2`` stays ``||V * s||^2`` because ``Q`` is orthonormal.

Directions with no variance in the data carry no information, so they are dropped exactly (the
weights there stay at the prior); with fewer images than dimensions that shrinks the problem to the
number of images. The eigen-decomposition is done once per data set (`ProjectedEmbeddings`) and
shared by every fold and every C of a cross-validation through `ProjectedEmbeddings.take`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.optimize import minimize
from scipy.special import log_expit, log_softmax
from threadpoolctl import threadpool_limits

# Typical per-image curvature of the loss at a fitted head. It only scales the preconditioner, so it
# changes speed, not the solution; values between 1e-3 and 1e-2 measured within 30% of each other.
_CURVATURE = 3e-3
# Eigen-directions whose variance is below this fraction of the largest are treated as empty.
_RANK_RTOL = 1e-6


@dataclass(frozen=True)
class ProjectedEmbeddings:
    """Embeddings, centred and rotated into the eigenbasis of their covariance (computed once)."""

    features: np.ndarray  # (n, r) float32: (X - mean) @ basis
    mean: np.ndarray  # (d,)
    basis: np.ndarray  # (d, r) orthonormal columns
    eigenvalues: np.ndarray  # (r,) of the centred Gram matrix

    @classmethod
    def from_embeddings(cls, X: np.ndarray) -> ProjectedEmbeddings:
        # The decomposition runs in float64: a float32 Gram matrix loses enough precision (measured on
        # an AMD EPYC's BLAS) that the optimum in the new basis sat 0.05 logits from the true one.
        X = np.asarray(X, dtype=np.float64)
        mean = X.mean(axis=0)
        centred = X - mean
        n, d = centred.shape
        if n < d:  # the n x n Gram matrix is cheaper and gives the same non-zero spectrum
            eigenvalues, vectors = scipy.linalg.eigh(centred @ centred.T, driver="evd", check_finite=False)
            keep = _significant(eigenvalues)
            eigenvalues, vectors = eigenvalues[keep], vectors[:, keep]
            root = np.sqrt(eigenvalues)
            features = vectors * root
            basis = (centred.T @ vectors) / root
        else:
            eigenvalues, basis = scipy.linalg.eigh(centred.T @ centred, driver="evd", check_finite=False)
            keep = _significant(eigenvalues)
            eigenvalues, basis = eigenvalues[keep], basis[:, keep]
            features = centred @ basis
        basis, features, eigenvalues = _with_mean_direction(mean, basis, features, eigenvalues)
        return cls(
            features=np.ascontiguousarray(features, dtype=np.float32),
            mean=mean.astype(np.float64),
            basis=basis.astype(np.float64),
            eigenvalues=eigenvalues.astype(np.float64),
        )

    def take(self, rows: np.ndarray) -> ProjectedEmbeddings:
        """The same basis restricted to some images (a cross-validation fold): no new decomposition."""
        return ProjectedEmbeddings(self.features[rows], self.mean, self.basis, self.eigenvalues)


def _with_mean_direction(mean, basis, features, eigenvalues):
    """Add the part of the mean outside the data's span as one more direction (variance 0).

    A prior's bias penalty couples the weights to the mean (b = b' - W @ mean), so the optimum may
    move the weights along that part of the mean even though no image varies there.
    """
    mean = np.asarray(mean, dtype=np.float64)
    outside = mean - basis @ (basis.T @ mean)
    norm = np.linalg.norm(outside)
    if norm <= 1e-6 * max(np.linalg.norm(mean), 1e-12):
        return basis, features, eigenvalues
    basis = np.column_stack([basis, outside / norm])
    features = np.column_stack([features, np.zeros(len(features), dtype=features.dtype)])
    return basis, features, np.append(eigenvalues, 0.0)


def _significant(eigenvalues: np.ndarray) -> np.ndarray:
    top = eigenvalues.max(initial=0.0)
    return eigenvalues > max(top * _RANK_RTOL, np.finfo(np.float32).tiny)


@dataclass(frozen=True)
class LinearFit:
    coef: np.ndarray  # (k, d)
    intercept: np.ndarray  # (k,)
    n_iter: int


def fit_linear(
    data: ProjectedEmbeddings,
    targets: np.ndarray,
    weights: np.ndarray,
    *,
    multilabel: bool,
    C: float,
    prior: np.ndarray,
    bias_prior: np.ndarray | None = None,
    coef_init: np.ndarray,
    intercept_init: np.ndarray,
    max_iter: int,
    tol: float,
) -> LinearFit:
    """Minimise sum(weights * loss(X @ W.T + b, targets)) + ||W - prior||^2 / (2C) over W, b,
    plus ||b - bias_prior||^2 / (2C) when `bias_prior` is given (a zero-shot prior's bias).

    targets: (n, k) one-hot (softmax) or 0/1 indicator (sigmoid per column). weights: (n,) or (n, k).
    """
    k = targets.shape[1]
    r = data.features.shape[1]
    scale = 1.0 / np.sqrt(_CURVATURE * data.eigenvalues + 1.0 / C)
    scaled = data.features * scale.astype(np.float32)
    prior_logits = data.features @ (prior @ data.basis).T.astype(np.float32)
    # Start point in the new variables: V = ((W_init - prior) @ Q) / s and b' = b + W_init @ mean.
    v0 = ((coef_init - prior) @ data.basis) / scale
    b0 = intercept_init + coef_init @ data.mean
    loss = _sigmoid_loss if multilabel else _softmax_loss
    inverse_c = 1.0 / C
    # The bias in the centred variables is b' = b + W @ mean, with W = prior + (V * s) @ Q.T, so
    # b - bias_prior = b' - (bias_prior + prior @ mean) - (V * s) @ (Q.T @ mean).
    bias_target = None if bias_prior is None else bias_prior + prior @ data.mean
    mean_in_basis = (data.basis.T @ data.mean) * scale  # (r,), times V gives (V * s) @ Q.T @ mean

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        v, bias = theta[: k * r].reshape(k, r), theta[k * r :]
        logits = prior_logits + scaled @ v.T.astype(np.float32) + bias
        value, residual = loss(logits.astype(np.float64), targets, weights)
        shift = v * scale
        grad_v = (residual.T.astype(np.float32) @ scaled) + inverse_c * shift * scale
        value += 0.5 * inverse_c * np.sum(shift * shift)
        grad_bias = residual.sum(axis=0)
        if bias_target is not None:
            offset = bias - bias_target - v @ mean_in_basis
            value += 0.5 * inverse_c * np.sum(offset * offset)
            grad_bias = grad_bias + inverse_c * offset
            grad_v = grad_v - inverse_c * np.outer(offset, mean_in_basis)
        return value, np.concatenate([grad_v.ravel(), grad_bias])

    # The vectors and matrix products here are small: BLAS threads spin and contend more than they
    # help (measured 3-8x slower with 2 threads on a busy 2-core machine).
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(
            objective,
            np.concatenate([v0.ravel(), b0]),
            jac=True,
            method="L-BFGS-B",
            tol=tol,
            options={"maxiter": max_iter},
        )
    v, bias = result.x[: k * r].reshape(k, r), result.x[k * r :]
    coef = prior + (v * scale) @ data.basis.T
    return LinearFit(coef=coef, intercept=bias - coef @ data.mean, n_iter=int(result.nit))


def _softmax_loss(logits, targets, weights):
    """Weighted multinomial log-loss (summed) and its gradient with respect to the logits."""
    log_proba = log_softmax(logits, axis=1)
    value = -(weights @ np.einsum("ij,ij->i", log_proba, targets))
    residual = (np.exp(log_proba) - targets) * weights[:, None]
    return value, residual


def _sigmoid_loss(logits, targets, weights):
    """Weighted binary cross-entropy per (image, tag), summed, and its gradient."""
    log_p = log_expit(logits)  # log(1 - p) = log_p - logits: one transcendental pass instead of two
    value = -np.sum(weights * (log_p - (1.0 - targets) * logits))
    return value, (np.exp(log_p) - targets) * weights
