"""Shared fixtures: the real benchmark tables in ../shared (skipped with a reason where absent; only the
tests of their facts, tests/test_shared_tables.py, use them), synthetic NAS-Bench-201, NAS-Bench-101 and
DARTS tables the tests generate themselves (tests/synthetic_tables.py: for the tests of behaviour, which
so run on any clone), one Ray session for every test that needs Ray, and a guard that
keeps every test out of ~/ray_results."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SSNENAS_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("RAY_AUTH_MODE", "disabled")


def shared_file(relative: str) -> Path:
    """Path of a file under ../shared/data, or skip the test saying why."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real benchmark table {relative} not found under {SHARED_DATA} "
                    "(only the development checkout has ../shared)")
    return path


@pytest.fixture(scope="session")
def nb101_1k_csv() -> Path:
    return shared_file("nasbench101/nb101_1k.csv")


@pytest.fixture(scope="session")
def nb101_500_csv() -> Path:
    return shared_file("nasbench101/nb101_500.csv")


@pytest.fixture(scope="session")
def nb201_csv() -> Path:
    return shared_file("nasbench201/nb201_200epoch.csv")


@pytest.fixture(scope="session")
def nb201_12epoch_csv() -> Path:
    return shared_file("nasbench201/nb201_12epoch.csv")


@pytest.fixture(scope="session")
def darts_csv() -> Path:
    return shared_file("darts/nb301_500.csv")


@pytest.fixture(scope="session")
def tnb101_csv() -> Path:
    """The real TransNAS-Bench-101 micro table (4,096 cells x 5 tasks)."""
    return shared_file("transnas101/tnb101_micro.csv")


@pytest.fixture(scope="session")
def nb201_store(nb201_csv, tmp_path_factory) -> Path:
    """Folder of the real NB201 cifar10-valid store (val x-valid, test cifar10 ori-test), prepared once.

    Tests treat it as read-only; a test that changes a store prepares its own."""
    from ssnenas.store.nasbench201 import prepare_nasbench201

    out = tmp_path_factory.mktemp("nb201_store")
    prepare_nasbench201(nb201_csv, "cifar10-valid", out, val_column="cifar10-valid_val_acc",
                        test_column="cifar10_test_acc")
    return out


@pytest.fixture(scope="session")
def nb201_benchmark(nb201_store):
    """The opened ``BenchmarkStore`` of :func:`nb201_store` (read-only)."""
    from ssnenas.store import BenchmarkStore

    return BenchmarkStore.open(nb201_store)


@pytest.fixture(scope="session")
def synthetic_nb201_csv(tmp_path_factory) -> Path:
    """The synthetic NAS-Bench-201 CSV (all 15,625 cells, the real table's columns), written once.

    For tests of behaviour (drivers agree, resume, budgets, determinism); the formula and its known
    optimum are in tests/synthetic_tables.py. Tests of the real table's facts use :func:`nb201_csv`."""
    from synthetic_tables import write_nb201_csv

    return write_nb201_csv(tmp_path_factory.mktemp("synthetic_nb201") / "nb201_synthetic.csv")


@pytest.fixture(scope="session")
def synthetic_nb201_store(synthetic_nb201_csv, tmp_path_factory) -> Path:
    """Folder of the cifar10-valid store of :func:`synthetic_nb201_csv` (val and test columns as the
    real :func:`nb201_store`), prepared once; read-only."""
    from ssnenas.store.nasbench201 import prepare_nasbench201

    out = tmp_path_factory.mktemp("synthetic_nb201_store")
    prepare_nasbench201(synthetic_nb201_csv, "cifar10-valid", out, val_column="cifar10-valid_val_acc",
                        test_column="cifar10_test_acc")
    return out


@pytest.fixture(scope="session")
def synthetic_nb201_benchmark(synthetic_nb201_store):
    """The opened ``BenchmarkStore`` of :func:`synthetic_nb201_store` (read-only)."""
    from ssnenas.store import BenchmarkStore

    return BenchmarkStore.open(synthetic_nb201_store)


@pytest.fixture(scope="session")
def synthetic_nb101_csv(tmp_path_factory) -> Path:
    """A generated NAS-Bench-101 table in the layout of the real ``nb101_1k.csv`` (1,000 distinct pruned
    models, official hashes computed by the project's hashing; tests/synthetic_tables.py), written once."""
    from synthetic_tables import write_nb101_csv

    return write_nb101_csv(tmp_path_factory.mktemp("synthetic_nb101") / "nb101_synthetic.csv")


@pytest.fixture(scope="session")
def synthetic_nb101_unpruned_csv(tmp_path_factory) -> Path:
    """A generated NAS-Bench-101 table in the layout of the real ``nb101_500.csv`` (500 unpruned 7x7
    specs, many pruning to a model listed before), written once."""
    from synthetic_tables import write_nb101_unpruned_csv

    return write_nb101_unpruned_csv(tmp_path_factory.mktemp("synthetic_nb101_unpruned") / "nb101_unpruned.csv")


@pytest.fixture(scope="session")
def synthetic_darts_csv(tmp_path_factory) -> Path:
    """A generated DARTS table in the layout of the real ``nb301_500.csv`` (500 genotypes of distinct keys
    plus 10 rows that repeat a key in another string), written once."""
    from synthetic_tables import write_darts_csv

    return write_darts_csv(tmp_path_factory.mktemp("synthetic_darts") / "darts_synthetic.csv")


@pytest.fixture(scope="session")
def nb201_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Real (tiny, 1-epoch) SS-RL and SS-CCL checkpoints for NAS-Bench-201, trained once per session."""
    import numpy as np

    from ssnenas.pretrain import CCLConfig, SSRLConfig, arch_set, train_ccl, train_ssrl
    from ssnenas.spaces import get_space

    out = tmp_path_factory.mktemp("ckpt")
    archs = arch_set("nasbench201", get_space("nasbench201").all_archs()[:300])
    train_ssrl(archs.take(np.arange(100)), out / "rl.pt", config=SSRLConfig(epochs=1, lr=1e-3),
               device="cpu", progress=False)
    train_ccl(archs, out / "ccl.pt", config=CCLConfig(batch_size=300, train_samples=60, batch_step=20,
                                                      min_negative_size=250, epochs=1),
              device="cpu", progress=False)
    return {"ss-rl": out / "rl.pt", "ss-ccl": out / "ccl.pt"}


@pytest.fixture
def one_torch_thread():
    """Tiny fits gain nothing from intra-op threads, which contend badly on a shared 2-core machine,
    and a seed reproduces a fit only at a fixed thread count; restores the setting afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


RAY_CONSTANTS = "ray.train.constants"  # where Ray computes DEFAULT_STORAGE_PATH (~/ray_results) on import


class _RedirectOnImport(importlib.abc.MetaPathFinder):
    """Sets ``DEFAULT_STORAGE_PATH`` of ``ray.train.constants`` right after that module runs, so that
    sessions that never import Ray do not pay for importing it (about 5 s) up front."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def find_spec(self, fullname, path, target=None):
        if fullname != RAY_CONSTANTS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return None
        run, folder = spec.loader.exec_module, self.folder

        def exec_module(module) -> None:
            run(module)
            module.DEFAULT_STORAGE_PATH = folder

        spec.loader.exec_module = exec_module
        return spec


@pytest.fixture(scope="session")
def ray_default_storage(tmp_path_factory) -> Path:
    """Ray's default storage (``~/ray_results``, where Tune, Ray Train and a bare ``Trainable`` write
    without a ``storage_path``) pointed at a session folder, so that the tests never write into the
    user's home; :func:`nothing_in_ray_default_storage` fails a test that writes there anyway.

    Ray fixes the path when ``ray.train.constants`` is imported and copies it into the modules that
    import the name: the copies already imported are replaced, and a later import of the module is
    patched as it runs (in this process; Ray's workers get their storage paths from the driver)."""
    folder = tmp_path_factory.mktemp("ray_default_storage")
    original = Path("~/ray_results").expanduser().as_posix()  # as ray.train.constants computes it
    hook = _RedirectOnImport(str(folder))
    sys.meta_path.insert(0, hook)
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("ray.") and \
                getattr(module, "DEFAULT_STORAGE_PATH", None) == original:
            module.DEFAULT_STORAGE_PATH = str(folder)
    yield folder
    sys.meta_path.remove(hook)
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("ray.") and \
                getattr(module, "DEFAULT_STORAGE_PATH", None) == str(folder):
            module.DEFAULT_STORAGE_PATH = original


@pytest.fixture(autouse=True)
def nothing_in_ray_default_storage(ray_default_storage):
    """Fail any test that leaves output in Ray's default storage: give Tune / Ray Train
    ``RunConfig(storage_path=str(tmp_path))`` (or a bare Trainable a storage) instead."""
    before = set(ray_default_storage.iterdir())
    yield
    new = sorted(set(ray_default_storage.iterdir()) - before)
    if new:
        pytest.fail(f"the test wrote into Ray's default storage (~/ray_results, redirected to "
                    f"{ray_default_storage} during the tests): {[p.name for p in new]}; pass "
                    "RunConfig(storage_path=str(tmp_path)) to the Tuner or Ray Train trainer", pytrace=False)


@pytest.fixture(scope="session")
def ray_session():
    """Start Ray once for the whole session (2 CPUs, no dashboard) and shut it down at the end."""
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
