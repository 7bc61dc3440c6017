"""Networks on disk: `save` and `load` a `Net` as a `.npz` of named arrays, without pickle.

The file holds one array per weight, `layer{l}.w` and `layer{l}.b` (the tutorial's
layer_{l+1}), and `jlinnet`, a JSON string with the format, the number of layers and
the activation. A network trained by `train_many` (a leading axis K on every weight)
is saved and loaded the same way. Nothing here runs a JAX computation: the arrays
are copied to and from the host.
"""

import json
import os
import tempfile
import zipfile
from pathlib import Path

import jax
import numpy as np

from jlinnet.model import ACTIVATIONS, Activation, Layer, Net, Network

FORMAT = "jlinnet.Net/1"


def _activation_record(activation) -> str | None:
    if activation is None or isinstance(activation, str):
        return activation
    return "callable:" + getattr(activation, "__qualname__", type(activation).__name__)


def save(path: str | os.PathLike, net: Network) -> Path:
    """Writes `net` to `path` (a `.npz` file), whole: a temporary file, then a rename.

    Args:
      path: the file to write; its folder must exist. Replaced if it exists.
      net: a `Net` or a tuple of `Layer`s, with or without a leading axis K; a callable
        activation is recorded by name only, so `load` then needs it again.

    Returns:
      The path written.
    """
    path = Path(path)
    if isinstance(net, Net):
        layers, activation = net.layers, net.activation
    elif isinstance(net, (tuple, list)) and net and all(isinstance(a, Layer) for a in net):
        layers, activation = tuple(net), None
    else:
        raise TypeError(f"net must be a jlinnet.Net or a tuple of Layers, got {type(net).__name__}")
    arrays = {}
    for l, layer in enumerate(jax.device_get(layers)):
        for field, leaf in zip(Layer._fields, layer):
            leaf = np.asarray(leaf)
            if not np.issubdtype(leaf.dtype, np.floating):
                raise TypeError(f"net[{l}].{field} must be floating, got dtype {leaf.dtype}")
            arrays[f"layer{l}.{field}"] = leaf
    meta = dict(format=FORMAT, layers=len(layers), activation=_activation_record(activation))
    arrays["jlinnet"] = np.array(json.dumps(meta))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def load(path: str | os.PathLike, *, activation: Activation = None) -> Net:
    """Reads a network written by `save`.

    Args:
      path: the `.npz` file.
      activation: only for a network saved with a callable activation: that callable
        again (a name, or None, is read from the file).

    Returns:
      The `Net`, its weights as JAX arrays of the saved dtypes and shapes.

    Raises:
      ValueError: the file is not a network saved by `save`, or is missing or has
        extra or malformed arrays; the message says which.
    """
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{path} is not a network saved by jlinnet.save: {err}") from None
    try:
        meta = json.loads(str(arrays.pop("jlinnet")))
        ok = meta["format"] == FORMAT and isinstance(meta["layers"], int)
    except (KeyError, ValueError, TypeError):
        ok = False
    if not ok:
        raise ValueError(f"{path} has no jlinnet header of format {FORMAT}")
    expected = {f"layer{l}.{f}" for l in range(meta["layers"]) for f in Layer._fields}
    if set(arrays) != expected:
        raise ValueError(
            f"{path} must hold the arrays {sorted(expected)}, got {sorted(arrays)}"
        )
    saved = meta["activation"]
    if isinstance(saved, str) and saved.startswith("callable:"):
        if not callable(activation):
            raise ValueError(f"{path} was saved with the activation {saved[9:]}: pass it again,"
                             " load(path, activation=fn)")
    elif activation is not None:
        raise ValueError(f"{path} records its activation ({saved!r}): load it without activation=")
    else:
        activation = saved
    if activation is not None and not callable(activation) and activation not in ACTIVATIONS:
        raise ValueError(f"{path} records an unknown activation {activation!r}")
    layers = tuple(Layer(arrays[f"layer{l}.w"], arrays[f"layer{l}.b"])
                   for l in range(meta["layers"]))
    _check_chain(path, layers)
    return Net(jax.device_put(layers), activation)


def _check_chain(path, layers) -> None:
    """Raises unless the saved weights form a network: w (..., in, out), b (..., out)."""
    before = None  # (leading axes, width) of the layer before
    for l, (w, b) in enumerate(layers):
        floating = np.issubdtype(w.dtype, np.floating) and b.dtype == w.dtype
        if w.ndim < 2 or b.shape != w.shape[:-2] + w.shape[-1:] or not floating:
            raise ValueError(f"{path}: layer{l} needs floating w (..., in, out) and b (..., out),"
                             f" got w {w.dtype}{w.shape} and b {b.dtype}{b.shape}")
        if before is not None and (w.shape[:-2], w.shape[-2]) != before:
            raise ValueError(f"{path}: layer{l}.w of shape {w.shape} does not follow the layer"
                             " before")
        before = (w.shape[:-2], w.shape[-1])
