"""experiments.curvature: each seed's own edge (its run went non-finite or ended above its
starting J, the rate under it did not), retrained alone; the predictions against explicit
Hessians; the ratios seed by seed; results.json strict, with the fields --help names; exits."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

import jlinnet as jl
from experiments import curvature

X = jl.grid()
Y = jl.linear_target(X)
SEEDS, STEPS = 3, 10  # a tiny run: one hidden size, three seeds, ten steps
SGD = optax.inject_hyperparams(optax.sgd)(learning_rate=0.0)  # not the experiment's object


def _strict(constant):
    raise ValueError(f"not strict JSON: {constant}")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("curvature")
    argv = ["--hidden", "1", "--seeds", str(SEEDS), "--steps", str(STEPS), "--out", str(out),
            "--no-cache"]
    assert curvature.main(argv) == 0
    assert [p.name for p in out.iterdir()] == ["results.json"]
    return json.loads((out / "results.json").read_text(), parse_constant=_strict)


def _lambda_max(net, x, y):
    """The largest eigenvalue of the explicit Hessian of J in the weights: beside `sharpness`."""
    theta, unravel = ravel_pytree(net)
    return jnp.linalg.eigvalsh(jax.hessian(lambda t: jl.mse(jl.forward(unravel(t), x), y))(
        theta))[-1]


def _diverges(seed, batchsize, lr):
    """Seed `seed` trained alone at `lr` by `jl.train`: whether it went non-finite or ended
    above its starting full-grid J."""
    net, starts = jl.tutorial_setup((1, 1, 1), STEPS, 1, seed=seed)
    starts = starts if batchsize == 1 else np.zeros_like(starts)
    r = jl.train(net, X, Y, starts, batchsize=batchsize, optimizer=SGD,
                 opt_state=jl.with_hyperparams(SGD.init(net), learning_rate=lr))
    end, start = jl.mse(jl.forward(r.params, X), Y), jl.mse(jl.forward(net, X), Y)
    return bool(r.nonfinite_step >= 0 or not end <= start)


def test_each_edge_is_where_its_seed_diverged_alone_and_just_under_it_did_not(results):
    assert [(r["hidden"], r["batch_size"]) for r in results["runs"]] == [(1, 1), (1, 1000)]
    for run in results["runs"]:
        assert run["summary"]["seeds_with_edge"] == SEEDS  # every seed bracketed
        for j, seed in enumerate(results["settings"]["seeds"]):
            edge, below = run["edge"][j], run["below"][j]
            assert 1e-3 < below < edge <= 1.0086 * below  # 0.85% apart: the resolution
            assert _diverges(seed, run["batch_size"], edge), (seed, edge)
            assert not _diverges(seed, run["batch_size"], below), (seed, below)
            assert run["last_stable"][j] >= below
            assert run["non_monotone"][j] == (run["last_stable"][j] > edge)
        assert run["summary"]["non_monotone"] == sum(run["non_monotone"])
        np.testing.assert_allclose(list(run["summary"]["edge"].values()), [
            np.median(run["edge"]), min(run["edge"]), max(run["edge"])], rtol=1e-6)


def test_each_ratio_is_its_seeds_prediction_over_its_own_edge(results):
    nets = [jl.tutorial_setup((1, 1, 1), STEPS, 1, seed=s)[0] for s in results["settings"]["seeds"]]
    lam = np.array([_lambda_max(n, X, Y) for n in nets], np.float64)  # full grid, at init
    rows = jax.jit(jax.vmap(lambda n, x, y: _lambda_max(n, x[None], y[None]), (None, 0, 0)))
    steepest = np.array([rows(n, X, Y).max() for n in nets], np.float64)  # one example's J
    for run in results["runs"]:
        p, edge = run["predictors"], np.array(run["edge"])
        np.testing.assert_allclose(p["2/lambda, full grid, init"]["predicted"], 2 / lam, rtol=1e-3)
        np.testing.assert_allclose(p["4/lambda, full grid, init"]["predicted"], 4 / lam, rtol=1e-3)
        np.testing.assert_allclose(p["2/lambda, steepest example, init"]["predicted"],
                                   2 / steepest, rtol=1e-3)
        for name, a in p.items():
            ratio = np.array(a["predicted"]) / edge  # seed by seed, not medians over medians
            np.testing.assert_allclose(a["ratio"], ratio, rtol=1e-6, err_msg=name)
            far = np.maximum(ratio, 1 / ratio)
            rank = lambda v: np.argsort(np.argsort(v))  # noqa: E731  (3 seeds: no ties)
            np.testing.assert_allclose(
                [a["median"], a["worst"], a["within_10pct"], a["spearman"]],
                [np.median(ratio), ratio[np.argmax(far)], np.mean(far <= 1.1 + 1e-9),
                 np.corrcoef(rank(a["predicted"]), rank(edge))[0, 1]], rtol=1e-6, err_msg=name)


def test_own_edges_is_the_smallest_rate_that_diverged_above_one_that_did_not():
    rates = np.array([[0.3, 0.1, 0.2, 0.4, 0.5]] * 4)  # in any order
    diverged = np.array([[True, False, False, False, True],  # 0.3 diverged, 0.4 did not
                         [False] * 5,  # none diverged: no edge
                         [True, True, True, False, False],  # 0.1 diverged: no bracket
                         [False, False, False, True, True]])  # 0.4 and 0.5: monotone
    e = curvature.own_edges(rates, diverged)
    np.testing.assert_array_equal(e["edge"], [0.3, np.nan, np.nan, 0.4])
    np.testing.assert_array_equal(e["below"], [0.2, np.nan, np.nan, 0.3])
    np.testing.assert_array_equal(e["last_stable"], [0.4, np.nan, np.nan, 0.3])
    assert list(e["non_monotone"]) == [True, None, None, False]


def test_replay_is_the_run_train_makes():
    """The catapult's step-by-step replay against `jl.train` and explicit Hessians."""
    seeds, lr = [4321, 4322], np.float32(0.01)
    net, starts = jax.tree.map(lambda *a: np.stack(a), *[
        jl.tutorial_setup((1, 2, 1), STEPS, 1, seed=s) for s in seeds])
    j, lr_lam, trained = curvature.replay(net, starts, np.full(2, lr), X, Y, batchsize=1)
    for k, seed in enumerate(seeds):
        one, s = jl.tutorial_setup((1, 2, 1), STEPS, 1, seed=seed)
        alone = jl.train(one, X, Y, s, batchsize=1, optimizer=optax.sgd(lr)).params
        np.testing.assert_allclose(j[k, [0, -1]], [jl.mse(jl.forward(n, X), Y)
                                                   for n in (one, alone)], rtol=1e-4)
        first = slice(int(s[0]), int(s[0]) + 1)  # step 1's example
        np.testing.assert_allclose(lr_lam[k, 0], lr * _lambda_max(one, X[first], Y[first]),
                                   rtol=1e-3)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a[k], b, rtol=1e-4, atol=1e-6),
                     trained, alone)


def test_results_json_has_every_field_help_names(results, capsys):
    assert curvature.main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    run = results["runs"][0]
    fields = [*results, *results["settings"], *run, *run["summary"], *run["catapult"],
              *next(iter(run["predictors"].values()))]
    assert [f for f in fields if f not in text] == []
    for values in [run[k] for k in ("edge", "below", "last_stable", "non_monotone")] + [
            *run["catapult"].values()] + [a["ratio"] for a in run["predictors"].values()]:
        assert len(values) == SEEDS


@pytest.mark.parametrize("argv", [["--seeds", "0"], ["--hidden"], ["--steps", "x"]])
def test_a_bad_flag_is_one_line_and_status_2(capsys, argv):
    assert curvature.main(argv) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_an_out_it_cannot_write_is_status_2_before_any_work(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert curvature.main(["--out", str(tmp_path / "file" / "out")]) == 2
    assert "cannot write into" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
