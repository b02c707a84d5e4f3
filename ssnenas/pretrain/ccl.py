r"""SS-CCL: central contrastive learning (SSNENAS, arXiv 2011.00186), model, mining and loss.

Model (CCLNas): ``encoder_q`` = GIN backbone -> mean pool -> projection Linear(32,8) -> ReLU ->
Linear(8,8); the output q is L2-normalised.

Mining (per anchor a of a batch B, on PAPE Hamming distances d_j = Hamming(PAPE_a, PAPE_j)):

- d_min = min(100, min_{j != a} d_j)  (the code masks d_a with 100)
- positives P_a = {j : d_j == d_min}  (contains a itself only when d_min == 0, i.e. PAPE duplicates)
- negatives Neg_a = the first K (in batch order) of {j : d_j >= d_min + margin}; with margin 0 the
  positives are among them (as in the original code). Anchors with fewer than K eligible members,
  or no positive, are skipped. Because of the cap, an anchor with no neighbour within Hamming 100
  has no positive and is skipped too (only DARTS's 1,224-bit PAPE gets there: ~0.5 % of anchors at
  N = 10k).

Loss of one step (anchors C' that survive the mining), with the centre c_a = normalize(mean_{p in
P_a} q_p) and tau = 0.07:

.. math::
    L_{ce} = \operatorname{mean}_{a, p \in P_a} \Big[-s_{ap} + \log\big(e^{s_{ap}}
             + \textstyle\sum_{n \in Neg_a} e^{s_{an}}\big)\Big],\quad s_{aj} = q_j \cdot c_a / \tau

    R = \frac{1}{|C'|^2} \sum_{a \neq b} c_a \cdot c_b, \qquad
    L = L_{ce} + m \cdot \tfrac12 R

i.e. cross-entropy with target 0 over rows [s_ap, s_an1, ..., s_anK]. The negative part of a row
depends only on the anchor, so its log-sum-exp is computed once per anchor, in chunks of anchors
recomputed in the backward pass: memory O(chunk * N) instead of the code's O(sum|P_a| * K).

Centre weight: the paper's m = 0.5 [paper p.41]; the code adds 0.5*R with weight 0.5, i.e. an
effective 0.25 * R. ``center_weight`` is m and the loss applies m * R / 2, so the default m = 0.5
reproduces the published runs' effective 0.25 while keeping the paper's parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssnenas.predictors.gin import GINEncoder
from ssnenas.pretrain.ged import hamming_matrix

MASK_DISTANCE = 100.0  # the code's stand-in for the anchor's own distance (caps d_min at 100)
DEFAULT_CHUNK_ELEMS = 1 << 22  # anchors x batch entries materialised at once


class CCLEncoder(nn.Module):
    """PredictorGINCCL in pre-training mode: GIN backbone + projection fc (32 -> 8 -> 8)."""

    def __init__(self, num_features: int, *, width: int = 32, num_layers: int = 3, dim: int = 8) -> None:
        super().__init__()
        self.encoder = GINEncoder(num_features, width=width, num_layers=num_layers)
        self.fc = nn.Sequential(nn.Linear(width, dim), nn.ReLU(), nn.Linear(dim, dim))

    def forward(self, x: Tensor, adj: Tensor) -> Tensor:
        return self.fc(self.encoder(x, adj))


class CCLModel(nn.Module):
    """CCLNas: ``encoder_q`` whose L2-normalised output is the contrastive embedding q ``[B, dim]``."""

    def __init__(self, num_features: int, *, width: int = 32, num_layers: int = 3, dim: int = 8) -> None:
        super().__init__()
        self.encoder_q = CCLEncoder(num_features, width=width, num_layers=num_layers, dim=dim)

    def forward(self, x: Tensor, adj: Tensor) -> Tensor:
        return F.normalize(self.encoder_q(x, adj), dim=1)


@dataclass(frozen=True)
class Mined:
    """Positives and negatives of a set of anchors, all as positions inside the batch.

    Negatives of anchor i are ``{j <= last[i] : d_ij >= threshold[i]}`` (exactly K of them), so the
    K-wide lists never need to be stored.
    """

    anchors: Tensor  # long [A] batch positions of the kept anchors
    threshold: Tensor  # float [A] d_min + margin
    last: Tensor  # long [A] batch position of the K-th eligible negative
    pos_anchor: Tensor  # long [P] row into ``anchors`` of each (anchor, positive) pair
    pos_index: Tensor  # long [P] batch position of the positive
    source: Tensor  # long [A] index of each kept anchor in the ``anchors`` argument of :func:`mine`
    skipped: int  # anchors dropped (fewer than K eligible negatives, or no positive)

    def select(self, rows: Tensor) -> "Mined":
        """The sub-result for anchor rows ``rows`` (sorted), positives re-indexed."""
        remap = torch.full((len(self.anchors),), -1, dtype=torch.long, device=self.anchors.device)
        remap[rows] = torch.arange(len(rows), device=rows.device)
        keep = remap[self.pos_anchor] >= 0
        return Mined(self.anchors[rows], self.threshold[rows], self.last[rows],
                     remap[self.pos_anchor[keep]], self.pos_index[keep], self.source[rows], 0)

    def sets(self, pape: Tensor) -> dict[int, tuple[list[int], list[int]]]:
        """``{anchor: (positives, negatives)}`` as batch positions (inspection and tests)."""
        out = {}
        for i, a in enumerate(self.anchors.tolist()):
            d = hamming_matrix(pape[a:a + 1], pape)[0]
            neg = [j for j in range(int(self.last[i]) + 1) if d[j] >= self.threshold[i]]
            out[a] = (self.pos_index[self.pos_anchor == i].tolist(), neg)
        return out


def _chunks(total: int, width: int, chunk_elems: int):
    step = max(1, chunk_elems // max(1, width))
    for i in range(0, total, step):
        yield slice(i, min(total, i + step))


@torch.no_grad()
def mine(pape: Tensor, anchors: Tensor, *, num_negatives: int, margin: float = 0.0,
         chunk_elems: int = DEFAULT_CHUNK_ELEMS) -> Mined:
    """Mine positives/negatives of ``anchors`` (batch positions) within the batch ``pape [N, L]``
    with the Hamming sweep as a matmul, ``chunk_elems`` distances at a time."""
    n = pape.shape[0]
    pf = pape.to(torch.float32)
    kept, thr, last, pa, pi, src = [], [], [], [], [], []
    skipped = 0
    for sl in _chunks(len(anchors), n, chunk_elems):
        anc = anchors[sl]
        d = hamming_matrix(pf[anc], pf)  # [c, N]
        rows = torch.arange(len(anc), device=pape.device)
        masked = d.clone()
        masked[rows, anc] = float("inf")
        d_min = masked.min(dim=1).values.clamp(max=MASK_DISTANCE)
        positive = d == d_min[:, None]
        eligible = d >= (d_min + margin)[:, None]
        rank = eligible.cumsum(dim=1)
        ok = (rank[:, -1] >= num_negatives) & positive.any(dim=1)
        skipped += int((~ok).sum())
        k_th = (rank >= num_negatives).to(torch.int8).argmax(dim=1)
        base = sum(len(a) for a in kept)
        r, j = positive[ok].nonzero(as_tuple=True)
        kept.append(anc[ok])
        thr.append((d_min + margin)[ok])
        last.append(k_th[ok].to(torch.long))
        pa.append(r + base)
        pi.append(j)
        src.append(torch.arange(sl.start, sl.stop, device=pape.device)[ok])
    cat = (lambda xs, dt: torch.cat(xs) if xs else torch.zeros(0, dtype=dt, device=pape.device))
    return Mined(cat(kept, torch.long), cat(thr, torch.float32), cat(last, torch.long),
                 cat(pa, torch.long), cat(pi, torch.long), cat(src, torch.long), skipped)


def _negative_logits(c: Tensor, q: Tensor, pape_anchor: Tensor, pape: Tensor, threshold: Tensor,
                     last: Tensor, tau: float) -> Tensor:
    """q_n.c_a/tau for every batch member n, -inf where n is not one of anchor a's negatives."""
    d = hamming_matrix(pape_anchor, pape)
    pos = torch.arange(pape.shape[0], device=pape.device)
    neg = (d >= threshold[:, None]) & (pos[None, :] <= last[:, None])
    return (c @ q.T / tau).masked_fill_(~neg, float("-inf"))


class _NegativeLSE(torch.autograd.Function):
    """logsumexp_n of the negative logits for a chunk of anchors, recomputed in backward.

    Saves only the inputs and the result, so memory stays O(chunk * N) for one chunk at a time:
    d lse_a / d c_a = sum_n p_an q_n / tau and d lse_a / d q_n = p_an c_a / tau, p = softmax.
    """

    @staticmethod
    def forward(ctx, c, q, pape_anchor, pape, threshold, last, tau):
        logits = _negative_logits(c, q, pape_anchor, pape, threshold, last, tau)
        lse = torch.logsumexp(logits, dim=1)
        ctx.save_for_backward(c, q, pape_anchor, pape, threshold, last, lse)
        ctx.tau = tau
        top = logits.max(dim=1).values
        ctx.mark_non_differentiable(top)
        return lse, top

    @staticmethod
    def backward(ctx, g_lse, g_max):
        c, q, pape_anchor, pape, threshold, last, lse = ctx.saved_tensors
        logits = _negative_logits(c, q, pape_anchor, pape, threshold, last, ctx.tau)
        w = torch.exp(logits.sub_(lse[:, None])).mul_(g_lse[:, None] / ctx.tau)
        return w @ q, w.T @ c, None, None, None, None, None



def center_regularizer(centers: Tensor) -> Tensor:
    """R = mean over all |C|^2 entries of C C^T with the diagonal set to 0 (centres pushed apart)."""
    gram = centers @ centers.T
    return (gram.sum() - gram.diagonal().sum()) / (len(centers) ** 2)


def ccl_loss(q: Tensor, pape: Tensor, mined: Mined, *, tau: float = 0.07, center_weight: float = 0.5,
             chunk_elems: int = DEFAULT_CHUNK_ELEMS) -> tuple[Tensor | None, dict[str, float]]:
    """Central contrastive loss of one step (module docstring) for the anchors in ``mined``.

    ``q [N, D]`` are the normalised embeddings of the whole batch. Returns ``(loss, stats)``; loss is
    None when no anchor survived the mining.
    """
    a = len(mined.anchors)
    if a == 0:
        return None, {"rows": 0, "anchors": 0}
    dim = q.shape[1]
    c_sum = torch.zeros(a, dim, dtype=q.dtype, device=q.device).index_add(0, mined.pos_anchor,
                                                                          q[mined.pos_index])
    count = torch.bincount(mined.pos_anchor, minlength=a).to(q.dtype)
    centers = F.normalize(c_sum / count[:, None], dim=1)
    s_pos = (q[mined.pos_index] * centers[mined.pos_anchor]).sum(dim=1) / tau
    pf = pape.to(torch.float32)
    lse, mx = [], []
    for sl in _chunks(a, pape.shape[0], chunk_elems):
        l_, m_ = _NegativeLSE.apply(centers[sl], q, pf[mined.anchors[sl]], pf, mined.threshold[sl],
                                    mined.last[sl], tau)
        lse.append(l_)
        mx.append(m_)
    lse_neg, max_neg = torch.cat(lse), torch.cat(mx)
    rows = torch.logaddexp(s_pos, lse_neg[mined.pos_anchor]) - s_pos
    l_ce = rows.mean()
    reg = center_regularizer(centers)
    loss = l_ce + center_weight * 0.5 * reg
    acc = (s_pos.detach() >= max_neg[mined.pos_anchor]).float().mean()
    return loss, {"rows": int(len(rows)), "anchors": a, "ce": float(l_ce.detach()),
                  "center_reg": float(reg.detach()), "top1": float(acc)}
