import os
import stat

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jlinnet as jl


def _same(a, b):
    chex.assert_trees_all_equal(a, b)
    assert a.activation == b.activation


@pytest.mark.parametrize("activation", [None, "tanh"])
def test_round_trip_one_network_and_a_stack(tmp_path, activation):
    net = jl.init_mlp(jax.random.key(0), (2, 5, 3, 1), activation=activation)
    _same(jl.load(jl.save(tmp_path / "net.npz", net)), net)
    stack = jax.vmap(lambda k: jl.init_mlp(k, (1, 4, 1), activation=activation))(
        jax.random.split(jax.random.key(1), 3))
    _same(jl.load(jl.save(tmp_path / "stack.npz", stack)), stack)


def test_every_single_byte_corruption_is_refused_or_loads_the_same_network(tmp_path):
    net = jl.init_mlp(jax.random.key(0), (1, 3, 1), activation="tanh")
    data = jl.save(tmp_path / "net.npz", net).read_bytes()
    bad, same = tmp_path / "bad.npz", 0
    for i in range(len(data)):
        bad.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
        try:
            loaded = jl.load(bad)
        except ValueError as err:
            assert str(bad) in str(err)
            continue
        _same(loaded, net)
        same += 1
    assert same < len(data) // 2  # most flips are caught, none loads another network


def test_a_callable_activation_is_matched_by_name(tmp_path):
    path = jl.save(tmp_path / "sin.npz", jl.init_mlp(jax.random.key(0), activation=jnp.sin))
    assert jl.load(path, activation=jnp.sin).activation is jnp.sin
    for wrong in (None, jnp.cos):
        with pytest.raises(ValueError, match="callable:sin"):
            jl.load(path, activation=wrong)


def test_an_ordinary_file_written_through_a_link(tmp_path):
    net = jl.init_mlp(jax.random.key(0))
    target = tmp_path / "target.npz"
    (tmp_path / "link.npz").symlink_to(target)
    umask = os.umask(0o022)
    try:
        jl.save(tmp_path / "link.npz", net)
    finally:
        os.umask(umask)
    assert (tmp_path / "link.npz").is_symlink()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    _same(jl.load(tmp_path / "link.npz"), net)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.npz", "target.npz"]


def test_a_hostile_header_is_refused_before_it_allocates(tmp_path):
    path = tmp_path / "huge.npz"
    np.savez(path, jlinnet=np.array('{"format": "jlinnet.Net/1", "layers": 1000000000000,'
                                    ' "activation": null}'))
    with pytest.raises(ValueError, match="does not match its 1 arrays"):
        jl.load(path)


def test_a_float64_file_says_what_it_needs_without_x64(tmp_path):
    with jax.enable_x64(True):
        path = jl.save(tmp_path / "f64.npz", jl.init_mlp(jax.random.key(0), dtype=jnp.float64))
    with pytest.raises(ValueError, match="dtype float64"):
        jl.load(path)
    chex.assert_type(jax.tree.leaves(jl.load(path, dtype=jnp.float32)), jnp.float32)
