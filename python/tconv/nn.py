"""tconv.nn: small models on tconv (the C++ tconv::nn), for checking them against PyTorch and for use.

    model = tconv.nn.Sequential([("conv", dict(in_channels=1, out_channels=8, kernel_size=3, padding=1)),
                                 ("relu", {}),
                                 ("conv_transpose", dict(in_channels=8, out_channels=1, kernel_size=4, stride=2,
                                                         padding=1))], rank=2, dtype="float32", seed=0)
    y = model.forward(x); dx = model.backward(dy)        # gradients accumulate into model.grads()
    opt = tconv.nn.Adam(model, lr=1e-3); opt.step(); opt.zero_grad()

Layer kinds and their settings (torch.nn's names): conv, conv_transpose (in_channels, out_channels,
kernel_size, stride, padding, output_padding, dilation, groups, bias), relu, leaky_relu (negative_slope),
tanh, sigmoid, upsample (scale_factor, mode "nearest" or "bilinear", align_corners), pixel_shuffle
(upscale_factor). Parameter names are torch.nn.Sequential's state_dict names ("0.weight", "0.bias"...).
"""
import numpy as np

from . import _tconv

_nn = _tconv.nn

__all__ = ["Sequential", "SGD", "Adam", "mse_loss", "l1_loss", "npz_names"]


def _sfx(dtype):
    dt = np.dtype(dtype)
    if dt == np.float32:
        return "F32", np.float32
    if dt == np.float64:
        return "F64", np.float64
    raise ValueError(f"dtype {dt}: tconv.nn computes in float32 or float64")


class Sequential:
    def __init__(self, layers, rank=2, dtype="float32", seed=0):
        sfx, self.dtype = _sfx(dtype)
        self._m = getattr(_nn, "Model" + sfx)([(k, dict(s)) for k, s in layers], int(rank), int(seed))
        self._sfx = sfx

    def forward(self, x):
        return self._m.forward(np.ascontiguousarray(x, dtype=self.dtype))

    __call__ = forward

    def backward(self, grad_output):
        return self._m.backward(np.ascontiguousarray(grad_output, dtype=self.dtype))

    def zero_grad(self):
        self._m.zero_grad()

    def state_dict(self):
        return {n: self._m.get(n) for n in self._m.names()}

    def grads(self):
        return {n: self._m.grad(n) for n in self._m.names()}

    def load_state_dict(self, state):
        names = self._m.names()
        missing = [n for n in names if n not in state]
        extra = [n for n in state if n not in names]
        if missing or extra:
            raise ValueError(f"state_dict mismatch: missing {missing}, unexpected {extra}")
        for n in names:
            self._m.set(n, np.ascontiguousarray(state[n], dtype=self.dtype))

    def init_bilinear(self, index):
        """FCN's bilinear initialisation of the conv_transpose layer at `index`."""
        self._m.init_bilinear(int(index))

    def save(self, path):
        self._m.save(str(path))

    def load(self, path):
        self._m.load(str(path))

    def __repr__(self):
        return self._m.describe()


def SGD(model, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    return getattr(_nn, "SGD" + model._sfx)(model._m, lr, momentum, dampening, weight_decay, nesterov)


def Adam(model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    return getattr(_nn, "Adam" + model._sfx)(model._m, lr, betas[0], betas[1], eps, weight_decay)


def _loss(name, prediction, target):
    sfx, dt = _sfx(np.asarray(prediction).dtype)
    return getattr(_nn, name + "_" + sfx.lower())(np.ascontiguousarray(prediction, dtype=dt),
                                                    np.ascontiguousarray(target, dtype=dt))


def mse_loss(prediction, target):
    """(mean squared error, its gradient with respect to the prediction)."""
    return _loss("mse_loss", prediction, target)


def l1_loss(prediction, target):
    """(mean absolute error, its gradient with respect to the prediction)."""
    return _loss("l1_loss", prediction, target)


def npz_names(path):
    """The array names in an .npz file, read by tconv's own reader (errors for corrupt files)."""
    return _nn.npz_names(str(path))
