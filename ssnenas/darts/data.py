"""Image data for candidate training: CIFAR-10 from a ``cifar-10-batches-py`` folder, and the
embedded default, scikit-learn's bundled 8x8 handwritten digits (no download).

Arrays are kept as float32 NCHW tensors normalised by the training split's per-channel mean/std.
Splits (as in the original SSNENAS search code): ``"search"`` = the first half of the training images
for training and the second half for validation (CIFAR-10: indices 0-24,999 / 25,000-49,999), plus the
test set; ``"full"`` = all training images for training, the test set for test, no validation.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pickle
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ssnenas.atomic import atomic_path
from ssnenas.errors import DataFormatError, InputError

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch"
SPLITS = ("search", "full")


@dataclass
class ImageData:
    """Normalised image tensors per split (``val`` may be None) and their description."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor | None
    y_val: torch.Tensor | None
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    #: random-crop padding of the training augmentation (pixels) and whether to flip horizontally
    crop_padding: int
    flip: bool

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]


def _normalise(x_train: np.ndarray, *others: np.ndarray | None) -> list[torch.Tensor | None]:
    """(x - mean) / std per channel, the statistics of the training split."""
    mean = x_train.mean(axis=(0, 2, 3), keepdims=True)
    std = x_train.std(axis=(0, 2, 3), keepdims=True) + 1e-8
    return [None if x is None else torch.from_numpy(((x - mean) / std).astype(np.float32))
            for x in (x_train, *others)]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise InputError(f"unknown data split {split!r}; choose one of {', '.join(SPLITS)}")


def _build(name: str, x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, split: str, *,
           num_classes: int, crop_padding: int, flip: bool) -> ImageData:
    if split == "search":
        half = len(x) // 2
        xt, yt, xv, yv = x[:half], y[:half], x[half:], y[half:]
    else:
        xt, yt, xv, yv = x, y, None, None
    nt, nv, ns = _normalise(xt, xv, x_test)
    return ImageData(name=name, x_train=nt, y_train=torch.from_numpy(yt.astype(np.int64)), x_val=nv,
                     y_val=None if yv is None else torch.from_numpy(yv.astype(np.int64)), x_test=ns,
                     y_test=torch.from_numpy(y_test.astype(np.int64)), num_classes=num_classes,
                     crop_padding=crop_padding, flip=flip)


# -- the embedded default: scikit-learn's 8x8 digits ------------------------------------------------
def load_digits_data(*, split: str = "search", seed: int = 0, test_fraction: float = 0.2) -> ImageData:
    """The 1,797 bundled 8x8 digits (values 0-16, 1 channel, 10 classes).

    A seeded permutation puts ``test_fraction`` of the images in the test set; the rest is the
    "training set" that ``split`` divides like CIFAR-10's (search: first half train, second half
    val). Augmentation: random crop with 1-pixel padding, no flip (mirrored digits change meaning).
    """
    _check_split(split)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, rest = perm[:n_test], perm[n_test:]
    return _build("digits", x[rest], y[rest], x[test], y[test], split, num_classes=10, crop_padding=1, flip=False)


# -- CIFAR-10 ---------------------------------------------------------------------------------------
def _numpy_function(name: str):
    """``numpy._core.<name>`` (numpy 2) or ``numpy.core.<name>`` (numpy 1), e.g. ``multiarray._reconstruct``."""
    module, attr = name.rsplit(".", 1)
    try:
        return getattr(importlib.import_module(f"numpy._core.{module}"), attr)
    except ModuleNotFoundError:  # numpy < 2
        return getattr(importlib.import_module(f"numpy.core.{module}"), attr)


def _reconstruct(subtype, shape, dtype):
    """numpy's ``_reconstruct`` for plain ndarrays only (a pickle could name another subtype)."""
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError(f"array subtype {subtype!r} is not numpy.ndarray")
    return _numpy_function("multiarray._reconstruct")(subtype, shape, dtype)


def _encode(text, encoding="utf-8"):
    """``_codecs.encode`` as pickle protocol 2 uses it for ``bytes``: a str to latin-1 bytes, nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is allowed for (str, 'latin1') only")
    return text.encode("latin1")


class CifarUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` for CIFAR-10 python batches: dicts, lists, bytes, str, numbers and plain
    numpy arrays, nothing else.

    Why: a batch file is a pickle, and ``pickle.load`` runs whatever function a file names; a folder
    someone sent (or a mirror) is not checked like the downloaded archive's MD5. The allowed globals
    only build arrays and dtypes: numpy's ``_reconstruct`` (ndarray only) and ``_frombuffer`` (under
    their numpy 1 and 2 module names), ``numpy.ndarray``, ``numpy.dtype``, and ``_codecs.encode``
    for ``bytes`` written with protocol 2. Any other global is refused before it is called.
    """

    ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    })

    def __init__(self, file, *, source: str | os.PathLike) -> None:
        super().__init__(file, encoding="bytes")
        self._source = str(source)

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise DataFormatError(f"{self._source}: refuses to unpickle global {module}.{name} (a CIFAR-10 batch "
                                  "holds only dicts, lists, bytes and numpy arrays); this is not a CIFAR-10 "
                                  "python batch file, re-download it with `ssnenas search --data cifar10:DIR "
                                  "--download`")
        if name == "_reconstruct":
            return _reconstruct
        if name == "_frombuffer":
            return _numpy_function("numeric._frombuffer")
        if name == "encode":
            return _encode
        return np.ndarray if name == "ndarray" else np.dtype


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3, 32, 32) uint8 images and labels of one pickled CIFAR-10 batch file, read with
    :class:`CifarUnpickler` (no code in the file can run)."""
    try:
        with open(path, "rb") as f:
            batch = CifarUnpickler(f, source=path).load()
    except (FileNotFoundError, DataFormatError):
        raise
    except Exception as exc:
        raise DataFormatError(f"{path}: not a CIFAR-10 python batch file ({type(exc).__name__}: {exc}); "
                              "re-download it with `ssnenas search --data cifar10:DIR --download`") from None
    if not isinstance(batch, dict):
        raise DataFormatError(f"{path}: expected a pickled dict with b'data' and b'labels', got "
                              f"{type(batch).__name__}")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise DataFormatError(f"{path}: the batch dict lacks b'data' or b'labels' (keys: {sorted(map(str, batch))}); "
                              "is this the python version of CIFAR-10 (cifar-10-batches-py)?")
    data = np.asarray(data)
    labels = np.asarray(labels)
    if (data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.ndim != 1
            or (labels.size and labels.dtype.kind not in "iu") or len(labels) != len(data)):
        raise DataFormatError(f"{path}: b'data' must be uint8 of shape (N, 3072) with N labels, got "
                              f"{data.dtype} {data.shape} and labels {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataFormatError(f"{path}: labels outside 0..9 (min {labels.min()}, max {labels.max()})")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def cifar10_folder(path: str | os.PathLike) -> Path:
    """The ``cifar-10-batches-py`` folder at ``path`` (the folder itself or its parent)."""
    p = Path(path).expanduser()
    for cand in (p, p / "cifar-10-batches-py"):
        if all((cand / f).is_file() for f in (*CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE)):
            return cand
    missing = [f for f in (*CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE) if not (p / f).is_file()]
    raise InputError(f"--data cifar10:{path}: no CIFAR-10 python batches there (missing {', '.join(missing)}); "
                     "point it at the extracted cifar-10-batches-py folder, or add --download to fetch it "
                     "where the internet is reachable")


def load_cifar10(path: str | os.PathLike, *, split: str = "search") -> ImageData:
    """CIFAR-10 from its python batches; ``search`` splits the 50k training images 25k/25k in file
    order (as the original code does), ``full`` keeps all 50k for training. Augmentation: crop with
    4-pixel padding + flip."""
    _check_split(split)
    folder = cifar10_folder(path)
    parts = [_read_batch(folder / f) for f in CIFAR10_TRAIN_FILES]
    x = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
    y = np.concatenate([p[1] for p in parts])
    xt, yt = _read_batch(folder / CIFAR10_TEST_FILE)
    return _build("cifar10", x, y, xt.astype(np.float32) / 255.0, yt, split, num_classes=10, crop_padding=4,
                  flip=True)


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_cifar10(dest: str | os.PathLike, *, url: str = CIFAR10_URL, timeout: float = 30.0) -> Path:
    """Download and extract CIFAR-10 (python version) under ``dest``; return the batches folder.

    Already-extracted data is reused. The archive is checked against its published MD5. Where the
    internet is unreachable, :class:`InputError` says so and how to supply the folder by hand.
    """
    dest = Path(dest).expanduser()
    try:
        return cifar10_folder(dest)
    except InputError:
        pass
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "cifar-10-python.tar.gz"
    if not archive.is_file():
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp, atomic_path(archive) as tmp:
                with open(tmp, "wb") as out:
                    while chunk := resp.read(1 << 20):
                        out.write(chunk)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise InputError(f"cannot download CIFAR-10 from {url} ({reason}); this machine seems offline. "
                             f"Download cifar-10-python.tar.gz elsewhere, extract it and pass "
                             f"--data cifar10:DIR/cifar-10-batches-py, or use --data digits") from None
    if _md5(archive) != CIFAR10_MD5:
        archive.unlink()
        raise InputError(f"{archive}: MD5 mismatch (corrupt or partial download, removed); run again")
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(dest, filter="data")
    return cifar10_folder(dest)


#: the image side of each data set: DARTS' retraining cutout (16 on CIFAR-10) is half of it
IMAGE_SIDE = {"digits": 8, "cifar10": 32}


def image_side(spec: str) -> int:
    """The image side (pixels) of a ``--data`` spec, without loading the data."""
    return IMAGE_SIDE[spec.split(":", 1)[0]]


def resolve_data_spec(spec: str, *, download: bool = False) -> str:
    """The canonical ``--data`` spec: ``digits``, or ``cifar10:<absolute cifar-10-batches-py folder>``.

    With ``download`` a missing CIFAR-10 is fetched into PATH first (:func:`download_cifar10`), so a
    run records where its data really is and a resumed or evaluated run finds it again."""
    if spec == "digits":
        return spec
    if not spec.startswith("cifar10:") or len(spec) == len("cifar10:"):
        raise InputError(f"--data {spec!r}: use 'digits' (embedded default) or 'cifar10:PATH' "
                         "(a cifar-10-batches-py folder)")
    path = spec[len("cifar10:"):]
    folder = download_cifar10(path) if download else cifar10_folder(path)
    return "cifar10:" + str(folder.resolve())


def load_data(spec: str, *, split: str = "search", seed: int = 0) -> ImageData:
    """Data from a ``--data`` spec: ``digits`` or ``cifar10:PATH``."""
    if spec == "digits":
        return load_digits_data(split=split, seed=seed)
    if spec.startswith("cifar10:") and len(spec) > len("cifar10:"):
        return load_cifar10(spec[len("cifar10:"):], split=split)
    raise InputError(f"--data {spec!r}: use 'digits' (embedded default) or 'cifar10:PATH' "
                     "(a cifar-10-batches-py folder)")


# -- batches with augmentation ----------------------------------------------------------------------
def augment(x: torch.Tensor, *, padding: int, flip: bool, cutout: int, gen: torch.Generator) -> torch.Tensor:
    """Random crop (zero padding ``padding``), optional horizontal flip and cutout (square of side
    ``cutout`` zeroed at a random centre), per image.

    The random draws come from the CPU generator ``gen`` (so a run is the same on any device); the
    pixels never leave ``x``'s device, so a GPU run augments on the GPU.
    """
    n, _, h, w = x.shape
    dev = x.device
    out = x
    if padding:
        padded = torch.nn.functional.pad(x, (padding,) * 4)
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=gen).to(dev)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=gen).to(dev)
        rows = dy[:, None] + torch.arange(h, device=dev)[None, :]  # (n, h)
        cols = dx[:, None] + torch.arange(w, device=dev)[None, :]  # (n, w)
        idx = torch.arange(n, device=dev)[:, None, None]
        out = padded.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    if flip:
        mask = (torch.rand(n, generator=gen) < 0.5).to(dev)
        out = torch.where(mask[:, None, None, None], out.flip(-1), out)
    if cutout:
        cy = torch.randint(0, h, (n,), generator=gen).to(dev)[:, None, None]
        cx = torch.randint(0, w, (n,), generator=gen).to(dev)[:, None, None]
        yy = torch.arange(h, device=dev)[None, :, None]
        xx = torch.arange(w, device=dev)[None, None, :]
        half = cutout // 2
        hole = ((yy >= cy - half) & (yy < cy - half + cutout) & (xx >= cx - half) & (xx < cx - half + cutout))
        out = out.masked_fill(hole[:, None, :, :], 0.0)
    return out.contiguous()
