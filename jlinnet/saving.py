"""Networks on disk: `save` and `load` a `Net` as a `.npz` of named arrays, without pickle.

The file holds one array per weight, `layer{l}.w` and `layer{l}.b` (the tutorial's
layer_{l+1}), and `jlinnet`, a JSON header: the format, the number of layers and the
activation. A stack of K networks (`train_many`) is saved and loaded the same way.
"""

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
    """Writes `net` to `path` (a `.npz` file) whole: a temporary file beside it, then a rename.

    Args:
      path: the file to write, in a folder that exists; replaced if it exists, through a
        symbolic link to its target. Permissions as for any new file (0o666 & ~umask).
      net: a `Net`, one or K; a callable activation is recorded by its name, so `load`
        needs that function again.

    Returns:
      The path written (a link's target).
    """
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
      activation: only for a network saved with a callable activation: that function
        again, matched by name (a named activation, or None, is read from the file).
      dtype: cast the weights to this floating dtype; None: keep the saved one, which must
        be one JAX has (float64 needs `jax_enable_x64`).

    Returns:
      The `Net`, its weights as JAX arrays of the saved shapes.

    Raises:
      ValueError: the file is not a whole network saved by `save` (missing, damaged,
        foreign, a header that does not match its arrays), or `activation`/`dtype` do not
        fit it; the message says which.
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
