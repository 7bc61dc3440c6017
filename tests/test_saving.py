import io
import json
import zipfile

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jlinnet as jl


@pytest.mark.parametrize("activation", [None, "tanh"])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16])
def test_a_saved_network_loads_as_the_same_network(tmp_path, activation, dtype):
    net = jl.init_mlp(jax.random.key(0), (2, 5, 4, 3), activation=activation, dtype=dtype)
    path = jl.save(tmp_path / "net.npz", net)
    loaded = jl.load(path)
    assert isinstance(loaded, jl.Net) and loaded.activation == activation
    chex.assert_trees_all_equal(loaded, net)
    chex.assert_trees_all_equal_dtypes(loaded, net)
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]  # no temporary file left


def test_k_networks_from_train_many_round_trip(tmp_path):
    nets = jax.vmap(jl.init_mlp)(jax.random.split(jax.random.key(0), 4))
    chex.assert_trees_all_equal(jl.load(jl.save(tmp_path / "k.npz", nets)), nets)


def test_a_tuple_of_layers_and_a_callable_activation(tmp_path):
    net = jl.init_mlp(jax.random.key(0))
    assert jl.load(jl.save(tmp_path / "t.npz", tuple(net))).activation is None
    custom = jl.Net(net.layers, jnp.sin)
    path = jl.save(tmp_path / "c.npz", custom)
    with pytest.raises(ValueError, match="saved with the activation sin: pass it again"):
        jl.load(path)
    assert jl.load(path, activation=jnp.sin).activation is jnp.sin
    with pytest.raises(ValueError, match="records its activation"):
        jl.load(jl.save(tmp_path / "n.npz", net), activation="tanh")


def test_no_pickle_in_the_file(tmp_path):
    path = jl.save(tmp_path / "net.npz", jl.init_mlp(jax.random.key(0)))
    with np.load(path, allow_pickle=False) as data:  # would raise on an object array
        assert sorted(data.files) == ["jlinnet", "layer0.b", "layer0.w", "layer1.b", "layer1.w"]
        assert json.loads(str(data["jlinnet"]))["activation"] is None


def _npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


HEADER = np.array(json.dumps(dict(format="jlinnet.Net/1", layers=1, activation=None)))


@pytest.mark.parametrize(
    "arrays, match",
    [
        (dict(x=np.zeros(1)), "no jlinnet header"),
        (dict(jlinnet=np.array("{not json")), "no jlinnet header"),
        (dict(jlinnet=HEADER, **{"layer0.w": np.zeros((1, 2))}), "must hold the arrays"),
        (dict(jlinnet=HEADER, **{"layer0.w": np.zeros((1, 2)), "layer0.b": np.zeros(3)}),
         r"layer0 needs floating w \(..., in, out\) and b \(..., out\)"),
        (dict(jlinnet=HEADER, **{"layer0.w": np.zeros((1, 2), int), "layer0.b": np.zeros(2, int)}),
         "layer0 needs floating"),
    ],
)
def test_a_malformed_file_is_a_named_error(tmp_path, arrays, match):
    with pytest.raises(ValueError, match=match):
        jl.load(_npz(tmp_path / "bad.npz", **arrays))


def test_not_an_npz_and_a_truncated_file_are_named_errors(tmp_path):
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="is not a network saved by jlinnet.save"):
        jl.load(tmp_path / "text.npz")
    buf = io.BytesIO()
    np.savez(buf, a=np.zeros(1000))
    (tmp_path / "cut.npz").write_bytes(buf.getvalue()[:300])
    with pytest.raises(ValueError, match="is not a network saved by jlinnet.save"):
        jl.load(tmp_path / "cut.npz")
    with pytest.raises(ValueError, match="is not a network"):
        jl.load(tmp_path / "missing.npz")
    assert not zipfile.is_zipfile(tmp_path / "text.npz")


def test_save_rejects_what_is_not_a_network(tmp_path):
    with pytest.raises(TypeError, match="net must be a jlinnet.Net or a tuple of Layers"):
        jl.save(tmp_path / "x.npz", {"w": np.zeros(1)})
    with pytest.raises(TypeError, match=r"net\[0\].w must be floating"):
        jl.save(tmp_path / "x.npz", (jl.Layer(np.zeros((1, 1), int), np.zeros(1, int)),))
    assert not list(tmp_path.iterdir())
