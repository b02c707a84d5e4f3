"""The ``seminas`` baseline: SemiNAS (Luo et al., arXiv 2002.10389) encoder-predictor-decoder with self-training.

An architecture is a token sequence read off its padded op-on-node DAG: for every node j = 1..N-1,
the bits ``adj[i, j]`` of its possible predecessors i < j (tokens 0/1) and then its op (token
2 + op index). The model (the NAO/SemiNAS controller without its search step):

- encoder: Embedding(V, 32) → LSTM(64); the architecture embedding is the mean of its outputs;
- predictor: Linear(64→64) → ReLU → Linear(64→1) → sigmoid, regressing the accuracy fraction;
- decoder: LSTM(64) started from the encoder's final state, teacher-forced on the shifted sequence,
  with dot-product attention over the encoder outputs, Linear(128→V) over the next token.

Loss = λ · MSE(prediction) + (1 − λ) · cross-entropy(reconstruction) with the trade-off λ = 0.8;
Adam lr 1e-3, batch 100, 200 epochs, gradient norm clipped at 5. Self-training (SemiNAS): after the
epochs on the labelled architectures, the model predicts :data:`UNLABELLED` further architectures of
the benchmark (never the training ones; their labels are not read) and trains another 200 epochs on
labelled ∪ pseudo-labelled. SemiNAS used 10,000 unlabelled architectures on NB101; 1,000 keep the
CPU cost of a study affordable here.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

TRADE_OFF = 0.8
UNLABELLED = 1000
EMBED, HIDDEN = 32, 64
CLIP = 5.0
PREDICT_CHUNK = 2048


def graph_tokens(x: Tensor, adj: Tensor) -> Tensor:
    """``[M, L]`` int64 token sequences of one-hot node features ``x [M, N, F]`` and ``adj [M, N, N]``,
    L = N(N-1)/2 + N - 1; vocabulary size 2 + F."""
    n = adj.shape[-1]
    ops = x.argmax(-1)
    parts = []
    for j in range(1, n):
        parts.append(adj[:, :j, j].round().long())
        parts.append((ops[:, j] + 2).unsqueeze(1))
    return torch.cat(parts, dim=1)


class SemiNASNet(nn.Module):
    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab + 1, EMBED)  # the last id is the decoder's start token
        self.encoder = nn.LSTM(EMBED, HIDDEN, batch_first=True)
        self.predictor = nn.Sequential(nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 1))
        self.decoder = nn.LSTM(EMBED, HIDDEN, batch_first=True)
        self.out = nn.Linear(2 * HIDDEN, vocab)
        self.start = vocab

    def encode(self, tokens: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        return self.encoder(self.embed(tokens))

    def predict(self, tokens: Tensor) -> Tensor:
        enc, _ = self.encode(tokens)
        return torch.sigmoid(self.predictor(enc.mean(dim=1))).squeeze(-1)

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """(predicted accuracy ``[B]``, next-token logits ``[B, L, V]``)."""
        enc, state = self.encode(tokens)
        pred = torch.sigmoid(self.predictor(enc.mean(dim=1))).squeeze(-1)
        shifted = torch.cat([torch.full_like(tokens[:, :1], self.start), tokens[:, :-1]], dim=1)
        dec, _ = self.decoder(self.embed(shifted), state)
        attn = torch.softmax(dec @ enc.transpose(1, 2), dim=-1)  # [B, L, L]
        return pred, self.out(torch.cat([dec, attn @ enc], dim=-1))


def _train(model: SemiNASNet, opt: torch.optim.Optimizer, tokens: Tensor, y: Tensor, *, epochs: int,
           batch_size: int, gen: torch.Generator) -> None:
    n = tokens.shape[0]
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen).to(tokens.device)
        for s in range(0, n, batch_size):
            idx = order[s:s + batch_size]
            pred, logits = model(tokens[idx])
            mse = ((pred - y[idx]) ** 2).mean()
            ce = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[idx].reshape(-1))
            loss = TRADE_OFF * mse + (1 - TRADE_OFF) * ce
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            opt.step()


def _predict(model: SemiNASNet, tokens: Tensor) -> Tensor:
    model.eval()
    with torch.no_grad():
        return torch.cat([model.predict(tokens[i:i + PREDICT_CHUNK]) for i in range(0, tokens.shape[0], PREDICT_CHUNK)])


def fit_predict_seminas(tokens: Tensor, y: Tensor, train_idx: Tensor, *, seeds: Sequence[int], epochs: int,
                        batch_size: int, lr: float, unlabelled: int = UNLABELLED,
                        vocab: int | None = None) -> Tensor:
    """Train one SemiNAS model per row of ``train_idx`` (rows of ``tokens [M, L]`` / ``y [M]``) with
    self-training on ``unlabelled`` other rows; return predictions for all M rows as ``[P, M]``."""
    vocab = int(tokens.max()) + 1 if vocab is None else vocab
    m = tokens.shape[0]
    out = []
    for seed, rows in zip(seeds, train_idx):
        gen = torch.Generator().manual_seed(int(seed))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = SemiNASNet(vocab).to(tokens.device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        _train(model, opt, tokens[rows], y[rows], epochs=epochs, batch_size=batch_size, gen=gen)
        if unlabelled > 0:
            others = np.setdiff1d(np.arange(m), rows.cpu().numpy())
            pick = torch.randperm(others.size, generator=gen)[:unlabelled].numpy()
            extra = torch.as_tensor(others[pick], device=tokens.device)
            pseudo = _predict(model, tokens[extra])
            both = torch.cat([rows, extra])
            _train(model, opt, tokens[both], torch.cat([y[rows], pseudo]), epochs=epochs,
                   batch_size=batch_size, gen=gen)
        out.append(_predict(model, tokens))
    return torch.stack(out)
