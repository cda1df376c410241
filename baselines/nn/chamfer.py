"""The modified Chamfer loss between a true set of typed four-vectors and a predicted set
(Ostdiek, "Deep Set Auto Encoders for Anomaly Detection in Particle Physics", Eq. 5; methods.md d.3),
vectorised over the batch.

For every true object: the Euclidean distance to the closest predicted vector minus
``w`` x log p(predicted type of that closest vector = true type); for every predicted vector whose
most probable type is not "empty": the distance to the closest true object minus ``w`` x log p(its
type = that object's type); plus ``count_weight`` x sum over types of (N_pred - N_true)^2, the
predicted count taken from the argmax type (a constant for the gradient, as in the reference).
Type probabilities are a softmax over the *class* axis (the reference code took it over the set
axis, a quirk we do not copy). Class 0 of the logits is "empty".

The reference looped over events in Python, which made training slow (the paper's Sec. 3.2);
:func:`modified_chamfer` works on whole (B, N, .) tensors with one distance matrix per batch.
:func:`modified_chamfer_loop` is the per-event loop, kept as the reference of the tests and the
benchmark (``tests/test_bench_chamfer.py``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

#: the reference's weight of the object-count term (``total_masked_weight``)
COUNT_WEIGHT = 1e-4


def _distances(true_vec: torch.Tensor, pred_vec: torch.Tensor, eps: float) -> torch.Tensor:
    """(..., T, P) Euclidean distances, with ``eps`` under the root so the gradient at 0 is finite."""
    return ((true_vec.unsqueeze(-2) - pred_vec.unsqueeze(-3)) ** 2).sum(-1).add(eps).sqrt()


def modified_chamfer(pred_vec: torch.Tensor, pred_logits: torch.Tensor, true_vec: torch.Tensor,
                     true_type: torch.Tensor, true_mask: torch.Tensor, *, w: float = 1.0,
                     count_weight: float = COUNT_WEIGHT, eps: float = 1e-12) -> torch.Tensor:
    """Per-event loss (B,).

    ``pred_vec`` (B, P, 4), ``pred_logits`` (B, P, C + 1) (class 0 = empty), ``true_vec`` (B, T, 4),
    ``true_type`` (B, T) integer types in 1..C (anything on padded slots), ``true_mask`` (B, T) bool.
    An event without true objects contributes only its count term.
    """
    pred_vec, true_vec = pred_vec.float(), true_vec.float()
    logp = F.log_softmax(pred_logits.float(), dim=-1)                          # (B, P, C+1)
    n_class = logp.shape[-1]
    mask = true_mask.bool()
    ttype = torch.where(mask, true_type.long(), torch.zeros_like(true_type, dtype=torch.long))
    dist = _distances(true_vec, pred_vec, eps)                                  # (B, T, P)

    # true -> closest prediction, and the log-probability that it has the true type
    d_true, j_star = dist.min(dim=2)                                            # (B, T)
    lp_matched = logp.gather(1, j_star.unsqueeze(-1).expand(-1, -1, n_class))   # (B, T, C+1)
    lp_true = lp_matched.gather(2, ttype.unsqueeze(-1)).squeeze(-1)             # (B, T)
    term_true = ((d_true - w * lp_true) * mask).sum(1)

    # predicted non-empty -> closest true object, and the log-probability of that object's type
    big = torch.finfo(dist.dtype).max
    d_pred, i_star = dist.masked_fill(~mask.unsqueeze(-1), big).min(dim=1)      # (B, P)
    matched_type = ttype.gather(1, i_star)                                      # (B, P)
    lp_pred = logp.gather(2, matched_type.unsqueeze(-1)).squeeze(-1)            # (B, P)
    present = (pred_logits.argmax(-1) != 0) & mask.any(1, keepdim=True)
    term_pred = torch.where(present, d_pred - w * lp_pred, torch.zeros_like(d_pred)).sum(1)

    # object counts per type from the argmax (no gradient)
    with torch.no_grad():
        n_pred = F.one_hot(pred_logits.argmax(-1), n_class).sum(1)[:, 1:]
        n_true = (F.one_hot(ttype, n_class) * mask.unsqueeze(-1)).sum(1)[:, 1:]
        counts = count_weight * ((n_pred - n_true).float() ** 2).sum(-1)
    return term_true + term_pred + counts


def modified_chamfer_loop(pred_vec: torch.Tensor, pred_logits: torch.Tensor, true_vec: torch.Tensor,
                          true_type: torch.Tensor, true_mask: torch.Tensor, *, w: float = 1.0,
                          count_weight: float = COUNT_WEIGHT, eps: float = 1e-12) -> torch.Tensor:
    """The same loss event by event, over each event's real objects only (the reference's way)."""
    out = []
    n_class = pred_logits.shape[-1]
    for b in range(pred_vec.shape[0]):
        real = true_mask[b].bool()
        tv, tt = true_vec[b][real].float(), true_type[b][real].long()
        pv, logits = pred_vec[b].float(), pred_logits[b].float()
        logp = F.log_softmax(logits, dim=-1)
        kind = logits.argmax(-1)
        loss = torch.zeros((), dtype=torch.float32, device=pred_vec.device)
        if len(tv):
            dist = _distances(tv, pv, eps)                                      # (T, P)
            d_true, j_star = dist.min(dim=1)
            loss = loss + (d_true - w * logp[j_star, tt]).sum()
            keep = kind != 0
            if keep.any():
                d_pred, i_star = dist[:, keep].min(dim=0)
                loss = loss + (d_pred - w * logp[keep][torch.arange(int(keep.sum())), tt[i_star]]).sum()
        with torch.no_grad():
            n_pred = torch.bincount(kind, minlength=n_class)[1:]
            n_true = torch.bincount(tt, minlength=n_class)[1:]
            counts = count_weight * ((n_pred - n_true).float() ** 2).sum()
        out.append(loss + counts)
    return torch.stack(out)
