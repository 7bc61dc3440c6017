import functools
import io
import os
import stat
import zipfile

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


def _double(a):
    return a * 2


def test_a_callable_activation_loads_only_with_a_function_giving_its_values(tmp_path):
    """A name proves nothing (every lambda is "<lambda>", a user's `tanh` is not jnp.tanh):
    the values at a few fixed points do."""
    for saved, same, others in [
        (jnp.sin, [jnp.sin], [None, jnp.cos]),
        (lambda a: a * 2, [lambda a: a * 2, _double], [lambda a: a * 3, jnp.tanh]),
        (functools.partial(jnp.power, 2.0), [lambda a: 2.0**a],
         [functools.partial(jnp.power, 3.0)]),
        (jnp.tanh, [jax.nn.tanh], [lambda a: a, lambda a: jnp.clip(jnp.tanh(a), -0.99, 0.99)]),
    ]:
        path = jl.save(tmp_path / "f.npz", jl.init_mlp(jax.random.key(0), activation=saved))
        for f in same:
            assert jl.load(path, activation=f).activation is f
        for wrong in others:
            with pytest.raises(ValueError, match=f"{path} is not a network .*activation="):
                jl.load(path, activation=wrong)


def _zipped(path, change):
    """A copy of the .npz at `path`, named after `change(dst, info, data)`, which writes each
    member into the new zip `dst`."""
    out = path.with_name(f"{change.__name__}.npz")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            change(dst, info, src.read(info))
    return out


def test_every_zip_oddity_is_the_same_named_error(tmp_path):
    path = jl.save(tmp_path / "net.npz", jl.init_mlp(jax.random.key(0), (1, 3, 1)))
    data = path.read_bytes()
    flag = data.index(b"PK\x01\x02") + 8  # the first member's flags in the central directory
    encrypted = tmp_path / "encrypted.npz"
    encrypted.write_bytes(data[:flag] + bytes([data[flag] | 1]) + data[flag + 1:])
    huge = np.lib.format.header_data_from_array_1_0(np.zeros((1, 3), np.float32))
    huge["shape"] = (2**40, 2**20)

    def lie(dst, info, member):  # layer0.w declares a shape of 2**60 floats
        if info.filename == "layer0.w.npy":
            head = io.BytesIO()
            np.lib.format.write_array_header_1_0(head, huge)
            member = head.getvalue() + member[len(head.getvalue()):]
        dst.writestr(info, member)

    def bomb(dst, info, member):  # a member of 100 MB of zeros, deflated to 100 kB
        dst.writestr(info, member)
        if info.filename == "jlinnet.npy":
            dst.writestr("pad.npy", b"\0" * 10**8, compress_type=zipfile.ZIP_DEFLATED)

    for bad, why in ((encrypted, "encrypted"), (_zipped(path, lie), "declares float32"),
                     (_zipped(path, bomb), "compressed or larger than the file")):
        with pytest.raises(ValueError, match=f"{bad} is not a network that jlinnet.load can read"
                           f": .*{why}"):
            jl.load(bad)


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
