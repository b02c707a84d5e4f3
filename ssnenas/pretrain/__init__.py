"""Self-supervised pre-training of the GIN encoder: SS-RL and SS-CCL (SSNENAS, arXiv 2011.00186).

Both learn from unlabelled architectures only, checkpoint every epoch (atomically), resume from the
last checkpoint when restarted, and hand the fine-tuning a GINEncoder ``state_dict`` through
:func:`load_pretrained_encoder`.
"""

from __future__ import annotations

from ssnenas.pretrain.ccl import CCLModel, ccl_loss, mine
from ssnenas.pretrain.ccl_train import CCLConfig, train_ccl
from ssnenas.pretrain.checkpoint import load_pretrained_encoder, read_checkpoint
from ssnenas.pretrain.data import ArchSet, arch_set, load_archs, sample_archs
from ssnenas.pretrain.ged import hamming_matrix, normalized_ged
from ssnenas.pretrain.ssrl import SiameseGED, SSRLConfig, train_ssrl

__all__ = ["ArchSet", "CCLConfig", "CCLModel", "SSRLConfig", "SiameseGED", "arch_set", "ccl_loss",
           "hamming_matrix", "load_archs", "load_pretrained_encoder", "mine", "normalized_ged",
           "read_checkpoint", "sample_archs", "train_ccl", "train_ssrl"]
