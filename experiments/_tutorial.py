"""The tutorial's network as written, in NumPy: the reference jlinnet is checked against.

Its `Linear`, `Net`, `Error` and `trainNet`, with the lines the text lost filled in from the
formulas above them, `epochs` read as `steps`, and the error returned instead of printed. Shared
by `experiments.tutorial_numpy` (which runs it), `experiments.benchmark` and the tests.
"""

import numpy as np


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

