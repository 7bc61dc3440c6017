"""The tutorial's network as written, in NumPy: the reference jlinnet is checked against.

Its `Linear`, `Net`, `Error` and `trainNet`, with the lines the text lost filled in from the
formulas above them, `epochs` read as `steps`, and the error returned instead of printed.
`python -m experiments.tutorial_numpy` runs `trainNet(2, steps=100, batchsize=1)` on 2x + 3 and
saves the before/after figure with matplotlib: the NumPy baseline for the README's run timings.
"""

import numpy as np

from experiments import _cli


class Error:
    """The previous tutorial's loss: J = 1/(2N) sum (y - y^p)^2, dJ/dy^p = -(y - y^p)/N."""

    @staticmethod
    def value(y, yp):
        return np.sum((y - yp) ** 2) / (2 * y.shape[0])

    @staticmethod
    def grad(y, yp):
        return -(y - yp) / y.shape[0]


class Linear:
    def __init__(self, insize, outsize, name=None):
        self.w = np.random.randn(insize, outsize)
        self.b = np.zeros((outsize,))
        self.inData = None
        self.data = None
        self.name = name

    def __call__(self, data):
        return self.forward(data)

    def forward(self, data):
        self.inData = data
        self.data = np.dot(data, self.w) + self.b
        return self.data

    def backward(self, grad):  # lost from the text: dJ/dW = inData^T grad, passes grad W^T back
        self.grad = grad
        return np.dot(grad, self.w.T)

    def update(self, lr=0.1):
        self.w -= np.dot(self.inData.T, self.grad) * lr
        self.b -= np.dot(self.grad.T, np.ones(self.grad.shape[0])) * lr


class Net:
    def __init__(self):
        self.layers = []

    def __call__(self, data):
        return self.predict(data)

    def __getitem__(self, item):
        return self.layers[item]

    def append(self, layer):
        self.layers.append(layer)

    def backward(self, grad):  # lost from the text: through the layers in reverse
        for layer in self.layers[::-1]:
            grad = layer.backward(grad)
        return grad

    def update(self, lr):
        for layer in self.layers:
            layer.update(lr)

    def predict(self, data):
        for layer in self.layers:
            data = layer.forward(data)
        return data

    def optimize(self, data, target, lr):  # returns the error the tutorial prints
        prediction = self(data)
        error = Error.value(target, prediction)
        self.backward(Error.grad(target, prediction))
        self.update(lr)
        return error


def linear(x):
    return 2 * x + 3


def grid():
    return np.linspace(-3, 3, 1000, dtype=np.float32).reshape(-1, 1)


def train_net(size, steps=1000, batchsize=10, learnRate=1e-2, X=None, f=linear, verbose=True):
    """The tutorial's `trainNet`, returning (net, the error of each step) instead of plotting."""
    X = grid() if X is None else X
    np.random.seed(4321)
    net = Net()
    net.append(Linear(insize=1, outsize=size, name="layer_1"))
    net.append(Linear(insize=size, outsize=1, name="layer_2"))
    errors = []
    for _ in range(steps):
        idx = np.random.randint(0, X.shape[0] - batchsize)
        x = X[idx : idx + batchsize]
        y = f(x).astype(np.float32)
        errors.append(net.optimize(x, y, learnRate))
        if verbose:
            print(f"Simple net error {errors[-1]}")
    return net, np.asarray(errors)


def main(argv=None):
    """Runs `trainNet` from the command line; returns the exit status (0, 1, 2 or 130)."""
    return _cli.main("tutorial_numpy", _run, argv, smaller="fewer --steps or a smaller --hidden")


def _run(argv):
    p = _cli.parser("tutorial_numpy", __doc__, "Writes before_after.png (the tutorial's Figure 2)"
                    " into --out once the run has succeeded.")
    _cli.tutorial_flags(p)
    p.add_argument("--out", type=_cli.out_path, default="results/tutorial_numpy",
                   help="folder for the figure (made if missing; default results/tutorial_numpy)")
    args = p.parse_args(argv)
    with _cli.Staged(args.out) as out:
        X = grid()
        before, _ = train_net(args.hidden, steps=0, X=X)  # the same start, not trained
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged run is one line, below
            after, _ = train_net(args.hidden, args.steps, args.batch_size, args.lr, X)
            error = Error.value(linear(X), after(X))
        print(f"Full-grid error after training {error}")
        if not np.isfinite(error):
            raise _cli.Failure(f"the run diverged; try a smaller --lr than {args.lr:g}")
        from matplotlib.figure import Figure  # showSubplots, saved instead of shown

        fig = Figure(figsize=(11, 4.2), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        for ax, net, when in zip(axes, (before, after), ("before", "after")):
            ax.plot(X, linear(X), color="black", linewidth=4, label="true function")
            ax.plot(X, net(X), color="orange", linewidth=2, label="Net")
            ax.set(title=f"Net results {when} training", xlabel="x")
            ax.legend(loc="upper left")
        axes[0].set_ylabel("y")
        fig.savefig(out / "before_after.png", dpi=110)
        print("wrote " + ", ".join(str(path) for path in out.publish()))
    return 0


if __name__ == "__main__":
    _cli.script(main)
