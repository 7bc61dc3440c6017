"""Networks on disk: `save` and `load` a `Net` (one or K) as a `.npz`, without pickle: arrays
`layer{l}.w`, `layer{l}.b` (the tutorial's layer_{l+1}) and `jlinnet`, a JSON header (format,
number of layers, activation)."""

import contextlib
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any, cast

import jax
import numpy as np
from jax.typing import DTypeLike

from jlinnet import checks
from jlinnet.model import Activation, Layer, Net, check_net

FORMAT = "jlinnet.Net/1"
# A callable activation is saved as its values here (float32), and loads only with a function
# that gives the same values: a name proves nothing (every lambda is "<lambda>").
POINTS = np.array([-100, -10, -3, -2, -1, -0.5, -0.1, 0, 0.1, 0.5, 1, 2, 3, 10, 100], np.float32)


def _activation(activation) -> dict:
    """The header's record of an activation: its name (None, "tanh", ...), or for a callable
    "callable:" + its qualified name and its values at POINTS (the fingerprint)."""
    if activation is None or isinstance(activation, str):
        return dict(activation=activation)
    name = getattr(activation, "__qualname__", type(activation).__name__)
    values = np.asarray(activation(jax.numpy.asarray(POINTS)), np.float64)
    return dict(activation=f"callable:{name}", fingerprint=values.tolist())


def _path(path) -> str | os.PathLike:
    """A file's path (an int would be a file descriptor: 1 is stdout), or a named error."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {checks.show(path)}")
    return path


def _arrays(path) -> dict[str, np.ndarray]:
    """The arrays of a `.npz` as `save` writes it, each member checked before it is read: not
    encrypted, stored (not compressed: no bomb), no larger than the file, and an array header
    that declares exactly the bytes its member holds (else a huge shape would be allocated)."""
    size, arrays = os.path.getsize(path), {}
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if info.flag_bits & 1 or info.compress_type != zipfile.ZIP_STORED or max(
                    info.file_size, info.compress_size) > size:
                raise ValueError(f"its member {info.filename!r} is encrypted, compressed or"
                                 " larger than the file")
            with z.open(info) as f:
                major, _ = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if major == 1 else (
                    np.lib.format.read_array_header_2_0)
                shape, _, dtype = read(f)
                held = info.file_size - f.tell()  # the bytes after the array's header
                if dtype.hasobject or math.prod(shape) * dtype.itemsize != held:
                    raise ValueError(f"its member {info.filename!r} declares {dtype} {shape},"
                                     " not the data it holds")
            with z.open(info) as f:
                arrays[info.filename.removesuffix(".npy")] = np.lib.format.read_array(
                    f, allow_pickle=False)
    return arrays


def save(path: str | os.PathLike, net: Net) -> Path:
    """Writes `net` (one or K; a callable activation by its values at a few points) to `path`,
    a `.npz` in a
    folder that exists, whole: a temporary file beside it, then a rename. A symbolic link is
    written through; the file's mode is any new file's (0o666 & ~umask). Returns the path
    written."""
    check_net(net, stacked=None, fn="save")
    path = Path(os.path.realpath(_path(path)))
    if not path.parent.is_dir():
        raise ValueError(f"path must be in a folder that exists, got {path} (no folder"
                         f" {path.parent})")
    arrays = {f"layer{l}.{field}": np.asarray(a) for l, layer in enumerate(net.layers)
              for field, a in zip(Layer._fields, jax.device_get(layer))}
    header = dict(format=FORMAT, layers=len(net), **_activation(net.activation))
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")
    with contextlib.ExitStack() as cleanup:  # the temporary file goes, whatever happens
        cleanup.callback(tmp.unlink, missing_ok=True)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
            np.savez(f, jlinnet=np.array(json.dumps(header)), **cast(Any, arrays))
        os.replace(tmp, path)
    return path


def load(path: str | os.PathLike, *, activation: Activation = None,
         dtype: DTypeLike | None = None) -> Net:
    """Reads a network written by `save`.

    Args:
      path: the `.npz` file.
      activation: only for a network saved with a callable activation: a function that gives
        the values it saved (the same function again); a named one, or None, is read from the
        file.
      dtype: cast the weights to this floating dtype; None: keep the saved one, which JAX
        must have (float64 needs `jax_enable_x64`).

    Returns:
      The `Net`, JAX arrays of the saved shapes. Anything else (a missing, damaged or foreign
      file, a header that does not match its arrays, an `activation` or `dtype` that does not
      fit) is one `ValueError` that says which.
    """
    path, dtype = _path(path), None if dtype is None else checks.float_dtype(dtype)
    try:
        data = _arrays(path)
        header = json.loads(str(data.pop("jlinnet")))
        n, saved = header["layers"], header["activation"]
        if header["format"] != FORMAT or type(n) is not int or not 1 <= n == len(data) / 2:
            raise ValueError(f"its header {header} does not match its {len(data) + 1} arrays")
        layers = [[data[f"layer{l}.{f}"] for f in Layer._fields] for l in range(n)]
        if isinstance(saved, str) and saved.startswith("callable:"):
            ok, name = callable(activation) and np.allclose(
                _activation(activation)["fingerprint"], header["fingerprint"], rtol=1e-6,
                atol=1e-7, equal_nan=True), activation
        else:
            ok, name = activation is None, saved
        kept = {str(jax.dtypes.canonicalize_dtype(a.dtype)) == str(a.dtype)
                for layer in layers for a in layer}
        if not ok or (dtype is None and kept != {True}):
            raise ValueError(f"it records activation {saved!r} and dtype {layers[0][0].dtype}:"
                             f" pass activation= only for a callable (a function giving the"
                             f" saved values) and dtype= for a dtype JAX lacks; got"
                             f" {checks.show(activation)} and {checks.show(dtype)}")
        arrays = jax.device_put([[a if dtype is None else a.astype(dtype) for a in layer]
                                 for layer in layers])  # a copy to the device, nothing compiled
        net = Net(tuple(Layer(w, b) for w, b in arrays), name)
        check_net(net, stacked=None, fn="load")
    except (OSError, ValueError, TypeError, KeyError, EOFError, NotImplementedError,
            zipfile.BadZipFile) as err:
        raise ValueError(f"{path} is not a network that jlinnet.load can read: {err}") from None
    return net
