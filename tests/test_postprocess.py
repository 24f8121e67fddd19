"""Post-processing of the first paper (section 3.5)."""

import numpy as np

from heatcheck.postprocess import relu_minmax


def test_relu_then_minmax_per_image():
    m = np.array([[[-2.0, 0.0], [1.0, 3.0]], [[5.0, 6.0], [7.0, 9.0]]])
    out = relu_minmax(m)
    assert np.allclose(out[0], [[0, 0], [1 / 3, 1]]) and np.allclose(out[1], [[0, 0.25], [0.5, 1]])
    assert np.allclose(relu_minmax(m, relu=False)[0], [[0, 0.4], [0.6, 1]])
    assert out.dtype == np.float32 and relu_minmax(m[0]).shape == (2, 2)


def test_constant_maps_without_nan():
    out = relu_minmax(np.stack([np.ones((3, 3)), np.zeros((3, 3)), -np.ones((3, 3))]))
    assert np.isfinite(out).all()
    assert (out[0] == 1).all() and (out[1] == 0).all() and (out[2] == 0).all()
