"""The unlabelled architecture set a pre-training run learns from.

Both SS-RL and SS-CCL need, per architecture, only its GIN input graph (one-hot node features and
adjacency) and its PAPE vector; no benchmark labels. NB101/NB201 take every architecture of a
prepared benchmark store (in store order, duplicates included, as the original code does); DARTS has no
complete table, so ``num_archs`` genotypes are sampled from the space (50,000 in the authors' README).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ssnenas.errors import InputError, StoreError
from ssnenas.spaces import get_space

DEFAULT_DARTS_ARCHS = 50_000


@dataclass(frozen=True)
class ArchSet:
    """Dense tensors of N architectures of one space (CPU; move with :meth:`to`)."""

    space: str  # canonical space name
    x: Tensor  # float32 [N, n_nodes, F] one-hot node features
    adj: Tensor  # float32 [N, n_nodes, n_nodes]
    pape: Tensor  # uint8 [N, L] position-aware path encodings
    fingerprint: str  # identifies the data: the store's fingerprint or a hash of the sampled archs
    source: str  # human-readable origin ("store DIR" or "sampled N archs, seed S")

    @property
    def num_archs(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[1])

    @property
    def num_features(self) -> int:
        return int(self.x.shape[2])

    def take(self, indices) -> "ArchSet":
        """The sub-set of rows ``indices`` (its own fingerprint)."""
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        h = hashlib.sha256(f"{self.fingerprint}:".encode() + idx.numpy().tobytes()).hexdigest()
        return ArchSet(self.space, self.x[idx], self.adj[idx], self.pape[idx], h,
                       f"{len(idx)} of {self.source}")

    def to(self, device: torch.device | str) -> "ArchSet":
        return ArchSet(self.space, self.x.to(device), self.adj.to(device), self.pape.to(device),
                       self.fingerprint, self.source)


def _store_space_name(store) -> str:
    space = getattr(store, "space", None)
    return getattr(space, "name", space) or ""


def archs_from_store(space_name: str, data: str | os.PathLike, *, dataset: str | None = None) -> ArchSet:
    """Every architecture of the prepared store at ``data`` (a store file, or a folder with one
    store or several told apart by ``dataset``); labels are not read."""
    from ssnenas.store.table import BenchmarkStore

    space = get_space(space_name)
    store = BenchmarkStore.open(data, dataset=dataset)
    held = _store_space_name(store)
    if held and get_space(held).name != space.name:
        raise StoreError(f"--data {data}: the store holds the {held} space but --space is {space.name}; "
                         f"pass a store prepared for {space.name} or --space {held}")
    n = int(store.num_archs)
    if n < 2:
        raise StoreError(f"--data {data}: the store holds {n} architectures; pre-training needs many")
    x, adj = store.features(np.arange(n))
    if "pape" in store.columns:  # precomputed by the converter: skips a Python loop over 423k NB101 archs
        pape = torch.as_tensor(np.asarray(store.column("pape")), dtype=torch.uint8)
    else:
        pape = _pape_of(space, [space.from_str(s) for s in store.column("arch")])
    return ArchSet(space.name, torch.as_tensor(np.asarray(x), dtype=torch.float32),
                   torch.as_tensor(np.asarray(adj), dtype=torch.float32), pape,
                   str(store.fingerprint), f"store {Path(data)}")


def arch_set(space_name: str, archs: Sequence, *, fingerprint: str | None = None,
             source: str = "") -> ArchSet:
    """Dense tensors of the given architectures (graphs via ``to_graph``, PAPE via ``encode``).

    ``fingerprint`` defaults to a sha256 over the architectures' strings.
    """
    space = get_space(space_name)
    graphs = [space.to_graph(a) for a in archs]
    x = np.stack([g.one_hot(space.num_features) for g in graphs]).astype(np.float32)
    adj = np.stack([g.adjacency for g in graphs]).astype(np.float32)
    if fingerprint is None:
        h = hashlib.sha256()
        for a in archs:
            h.update(space.to_str(a).encode())
            h.update(b"\n")
        fingerprint = h.hexdigest()
    return ArchSet(space.name, torch.from_numpy(x), torch.from_numpy(adj), _pape_of(space, archs),
                   fingerprint, source or f"{len(archs)} {space.name} archs")


def sample_archs(space_name: str, num_archs: int, *, seed: int, unique: bool = False) -> ArchSet:
    """``num_archs`` architectures drawn with ``space.sample`` from ``default_rng(seed)``.

    ``unique`` keeps drawing until ``num_archs`` distinct canonical keys are collected (NB101: distinct
    module hashes, i.e. distinct benchmark entries).
    """
    if num_archs < 2:
        raise InputError(f"--num-archs {num_archs}: need at least 2 architectures to pre-train")
    space = get_space(space_name)
    rng = np.random.default_rng(seed)
    if unique:
        by_key: dict = {}
        while len(by_key) < num_archs:
            arch = space.sample(rng)
            by_key.setdefault(space.key(arch), arch)
        archs = list(by_key.values())
    else:
        archs = [space.sample(rng) for _ in range(num_archs)]
    kind = "distinct " if unique else ""
    return arch_set(space_name, archs, source=f"sampled {num_archs} {kind}{space.name} archs, seed {seed}")


def load_archs(space_name: str, data: str | os.PathLike | None, *, num_archs: int | None = None,
               seed: int = 0, dataset: str | None = None) -> ArchSet:
    """The pre-training architectures: a store's archs when ``data`` is given, otherwise sampled ones.

    Without a store: DARTS samples ``num_archs`` genotypes (default 50,000, as the authors); NB101 samples
    ``num_archs`` distinct valid cells (every valid cell is a benchmark entry, so this stands in for the
    423,624-arch table where the official file is unavailable); NB201 takes all 15,625 cells.
    """
    if data is not None:
        if not Path(data).exists():
            raise StoreError(f"--data {data}: no such store; prepare one with `ssnenas data prepare`")
        return archs_from_store(space_name, data, dataset=dataset)
    space = get_space(space_name)
    if space.name in ("nasbench201", "transnas101-micro"):  # small enough to take every cell
        archs = space.all_archs()
        return arch_set(space_name, archs, source=f"all {len(archs)} {space.name} cells")
    if space.name == "nasbench101":
        if not num_archs:
            raise InputError("--space nasbench101 without --data needs --num-archs N (distinct cells to "
                             "sample), or pass the prepared 423k-arch store with --data")
        return sample_archs(space_name, num_archs, seed=seed, unique=True)
    return sample_archs(space_name, num_archs or DEFAULT_DARTS_ARCHS, seed=seed)


def _pape_of(space, archs) -> Tensor:
    return torch.from_numpy(np.stack([np.asarray(space.encode(a, "pape")) for a in archs]).astype(np.uint8))
