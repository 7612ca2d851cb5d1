"""InterFaceGAN-style direction for users with their own generator: a linear boundary in W.

Recipe (genforce `train_boundary`, §2.4): rank samples by attribute score, keep the top and bottom
`ratio` as positives / negatives, split 70/30, fit a linear classifier, return its unit normal
(1, 512). The reference fits `sklearn.svm.SVC(kernel='linear')`; facefill has no scikit-learn at
run time, so the classifier is fitted here in torch (float64, L-BFGS on the full batch):
  * "svm": L2-regularised squared-hinge linear SVM (the primal of a linear SVM with C),
  * "logistic": L2-regularised logistic regression.
Both give the same normal up to scale on separable data. Sampling + scoring helpers below turn a
generator and a scoring callable into (latents, scores).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Boundary:
    normal: np.ndarray  # (1, D) unit vector: the direction n_b
    offset: float  # intercept in the same (unit-normal) units
    train_accuracy: float
    val_accuracy: float
    positives: int
    negatives: int


def _fit_linear(x: torch.Tensor, y: torch.Tensor, method: str, c: float, iterations: int) -> torch.Tensor:
    """Weights (D+1,) of the linear classifier sign(x·w + b) for labels y in {-1, +1}."""
    params = torch.zeros(x.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([params], lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        margin = y * (x @ params[:-1] + params[-1])
        if method == "svm":
            data = torch.clamp(1 - margin, min=0).square().sum()
        else:
            data = torch.nn.functional.softplus(-margin).sum()
        loss = 0.5 * params[:-1].square().sum() + c * data
        loss.backward()
        return loss

    optimiser.step(closure)
    return params.detach()


def fit_boundary(
    latents: np.ndarray | torch.Tensor,
    scores: np.ndarray | torch.Tensor,
    *,
    ratio: float = 0.02,
    split: float = 0.7,
    method: str = "svm",
    c: float = 1.0,
    seed: int = 0,
    iterations: int = 200,
) -> Boundary:
    """Boundary of `latents` (N, D) by `scores` (N,): top/bottom `ratio` of N, `split` for training."""
    if method not in ("svm", "logistic"):
        raise ValueError(f"method must be 'svm' or 'logistic', not {method!r}")
    x_all = torch.as_tensor(np.asarray(latents), dtype=torch.float64).reshape(len(latents), -1)
    s = torch.as_tensor(np.asarray(scores), dtype=torch.float64).reshape(-1)
    if len(s) != len(x_all):
        raise ValueError(f"{len(x_all)} latents but {len(s)} scores")
    chosen = int(ratio * len(s))
    if chosen < 2:
        raise ValueError(f"ratio {ratio} of {len(s)} samples keeps {chosen} per side; sample more")
    order = torch.argsort(s, descending=True)
    pos, neg = order[:chosen], order[-chosen:]
    rng = np.random.default_rng(seed)
    n_train = int(round(chosen * split))
    pos, neg = pos[rng.permutation(chosen)], neg[rng.permutation(chosen)]
    train_idx = torch.cat([pos[:n_train], neg[:n_train]])
    val_idx = torch.cat([pos[n_train:], neg[n_train:]])
    labels = torch.cat([torch.ones(chosen), -torch.ones(chosen)]).double()
    train_y = torch.cat([labels[:n_train], labels[chosen : chosen + n_train]])
    val_y = torch.cat([labels[n_train:chosen], labels[chosen + n_train :]])
    params = _fit_linear(x_all[train_idx], train_y, method, c, iterations)
    w, b = params[:-1], params[-1]
    norm = torch.linalg.vector_norm(w)
    if norm == 0:
        raise ValueError("the classifier found no boundary (all weights zero); check the scores")

    def accuracy(idx: torch.Tensor, y: torch.Tensor) -> float:
        return float(((x_all[idx] @ w + b).sign() == y).double().mean()) if len(idx) else float("nan")

    return Boundary(
        normal=(w / norm).reshape(1, -1).numpy().astype(np.float32),
        offset=float(b / norm),
        train_accuracy=accuracy(train_idx, train_y),
        val_accuracy=accuracy(val_idx, val_y),
        positives=chosen,
        negatives=chosen,
    )


@torch.no_grad()
def sample_and_score(
    generator: torch.nn.Module,
    score: Callable[[torch.Tensor], torch.Tensor],
    num: int,
    *,
    seed: int = 0,
    batch: int = 8,
    truncation: float = 1.0,
    mean_latent: torch.Tensor | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(w (num, 512), scores (num,)): z ~ N(0, I) (seeded) -> mapping -> image ([0,1]) -> score."""
    device = next(generator.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    latents, scores = [], []
    for start in range(0, num, batch):
        z = torch.randn(min(batch, num - start), generator.style_dim, generator=gen).to(device)
        w = generator.get_latent(z)
        if truncation < 1 and mean_latent is not None:
            w = mean_latent + truncation * (w - mean_latent)
        noise = generator.make_noise(len(w), generator=gen)
        image, _ = generator([w], input_is_latent=True, noise=[n.to(device) for n in noise])
        latents.append(w.cpu())
        scores.append(score(((image + 1) / 2).clamp(0, 1)).reshape(-1).cpu())
    return torch.cat(latents).numpy(), torch.cat(scores).double().numpy()
