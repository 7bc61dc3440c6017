"""Networks on disk: `save` and `load` a `Net` (one or K) as a `.npz`, without pickle: arrays
`layer{l}.w`, `layer{l}.b` (the tutorial's layer_{l+1}) and `jlinnet`, a JSON header (format,
number of layers, activation)."""

import contextlib
import json
import os
import zipfile
from pathlib import Path

import jax
import numpy as np

from jlinnet.model import Activation, Layer, Net, check_net

FORMAT = "jlinnet.Net/1"


def _activation_name(activation) -> str | None:
    """None, a name, or "callable:" + the function's qualified name (`jnp.sin`: "sin")."""
    if activation is None or isinstance(activation, str):
        return activation
    return "callable:" + getattr(activation, "__qualname__", type(activation).__name__)


def save(path: str | os.PathLike, net: Net) -> Path:
    """Writes `net` (one or K; a callable activation by its name) to `path`, a `.npz` in a
    folder that exists, whole: a temporary file beside it, then a rename. A symbolic link is
    written through; the file's mode is any new file's (0o666 & ~umask). Returns the path
    written."""
    check_net(net, stacked=None, fn="save")
    path = Path(os.path.realpath(path))
    if not path.parent.is_dir():
        raise ValueError(f"path must be in a folder that exists, got {path} (no folder"
                         f" {path.parent})")
    arrays = {f"layer{l}.{field}": np.asarray(a) for l, layer in enumerate(net.layers)
              for field, a in zip(Layer._fields, jax.device_get(layer))}
    header = dict(format=FORMAT, layers=len(net), activation=_activation_name(net.activation))
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")
    with contextlib.ExitStack() as cleanup:  # the temporary file goes, whatever happens
        cleanup.callback(tmp.unlink, missing_ok=True)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
            np.savez(f, jlinnet=np.array(json.dumps(header)), **arrays)
        os.replace(tmp, path)
    return path


def load(path: str | os.PathLike, *, activation: Activation = None, dtype=None) -> Net:
    """Reads a network written by `save`.

    Args:
      path: the `.npz` file.
      activation: only for a network saved with a callable activation: that function again,
        matched by name (a named activation, or None, is read from the file).
      dtype: cast the weights to this floating dtype; None: keep the saved one, which JAX
        must have (float64 needs `jax_enable_x64`).

    Returns:
      The `Net`, JAX arrays of the saved shapes. Anything else (a missing, damaged or foreign
      file, a header that does not match its arrays, an `activation` or `dtype` that does not
      fit) is one `ValueError` that says which.
    """
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
            header = json.loads(str(data["jlinnet"]))
            n, saved = header["layers"], header["activation"]
            if header["format"] != FORMAT or type(n) is not int or not 1 <= n == (
                    len(data.files) - 1) / 2:
                raise ValueError(f"its header {header} does not match its {len(data.files)} arrays")
            layers = [Layer(*(data[f"layer{l}.{f}"] for f in Layer._fields)) for l in range(n)]
        if isinstance(saved, str) and saved.startswith("callable:"):
            ok, name = _activation_name(activation) == saved, activation
        else:
            ok, name = activation is None, saved
        kept = {str(jax.dtypes.canonicalize_dtype(a.dtype)) == str(a.dtype)
                for layer in layers for a in layer}
        if not ok or (dtype is None and kept != {True}):
            raise ValueError(f"it records activation {saved!r} and dtype {layers[0].w.dtype}:"
                             f" pass activation= only for a callable (that same function) and"
                             f" dtype= for a dtype JAX lacks; got {activation!r} and {dtype!r}")
        net = Net(tuple(Layer(*(a if dtype is None else a.astype(dtype) for a in layer))
                        for layer in layers), name)
        check_net(net, stacked=None, fn="load")
    except (OSError, ValueError, TypeError, KeyError, EOFError, NotImplementedError,
            zipfile.BadZipFile) as err:
        raise ValueError(f"{path} is not a network that jlinnet.load can read: {err}") from None
    return jax.device_put(net)
