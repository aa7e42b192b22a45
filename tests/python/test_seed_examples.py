"""The seeds' worked examples, exactly, through the Python API (as tests/seed_examples_test.cc does in C++)."""

import numpy as np

import convkit

ONE_TO_SIX = np.arange(1, 7, dtype=np.float32).reshape(1, 1, 6)


def conv1d_twos(kernel, **keywords):
    return convkit.conv1d(ONE_TO_SIX, np.full((1, 1, kernel), 2.0, np.float32), **keywords).ravel().tolist()


def test_pytorch_conv1d_kernel_sizes():
    assert conv1d_twos(1) == [2, 4, 6, 8, 10, 12]
    assert conv1d_twos(2) == [6, 10, 14, 18, 22]
    assert conv1d_twos(3) == [12, 18, 24, 30]


def test_pytorch_conv1d_padding_stride_dilation():
    assert conv1d_twos(3, padding=1) == [6, 12, 18, 24, 30, 22]
    assert conv1d_twos(5, padding=2) == [12, 20, 30, 40, 36, 30]
    assert conv1d_twos(3, stride=3) == [12, 30]
    assert conv1d_twos(3, dilation=2) == [18, 24]


TWO_CHANNELS = np.array([[[1, 2, 3, 4, 5, 6], [10, 20, 30, 40, 50, 60]]], np.float32)


def test_pytorch_conv1d_groups():
    y = convkit.conv1d(TWO_CHANNELS, np.array([2, 4], np.float32).reshape(2, 1, 1), groups=2)
    assert y.ravel().tolist() == [2, 4, 6, 8, 10, 12, 40, 80, 120, 160, 200, 240]


def test_pytorch_conv1d_depthwise_multiplier():
    y = convkit.conv1d(TWO_CHANNELS, np.array([2, 4, 6, 8], np.float32).reshape(4, 1, 1), groups=2)
    assert y.ravel().tolist() == [2, 4, 6, 8, 10, 12, 4, 8, 12, 16, 20, 24,
                                  60, 120, 180, 240, 300, 360, 80, 160, 240, 320, 400, 480]


def test_tensorflow_same_1d_2d_3d():
    y1 = convkit.conv1d(np.ones((1, 5, 1), np.float32), np.ones((3, 1, 1), np.float32), padding="same",
                        layout="channels_last")
    assert y1.ravel().tolist() == [2, 3, 3, 3, 2]
    y2 = convkit.conv2d(np.ones((1, 5, 5, 1), np.float32), np.ones((3, 3, 1, 1), np.float32), padding="same",
                        layout="channels_last")
    assert y2[0, :, :, 0].tolist() == [[4, 6, 6, 6, 4], [6, 9, 9, 9, 6], [6, 9, 9, 9, 6], [6, 9, 9, 9, 6],
                                       [4, 6, 6, 6, 4]]
    y3 = convkit.conv3d(np.ones((1, 5, 5, 5, 1), np.float32), np.ones((3, 3, 3, 1, 1), np.float32), padding="same",
                        layout="channels_last")
    count = np.array([2, 3, 3, 3, 2], np.float32)
    np.testing.assert_array_equal(y3[0, ..., 0], count[:, None, None] * count[None, :, None] * count[None, None, :])


def test_tensorflow_same_multichannel():
    y = convkit.conv2d(np.ones((1, 5, 5, 32), np.float32), np.ones((3, 3, 32, 64), np.float32), padding="same",
                       layout="channels_last")
    assert y.shape == (1, 5, 5, 64)
    assert np.all(y[0, 0, 0] == 4 * 32) and np.all(y[0, 0, 2] == 6 * 32) and np.all(y[0, 2, 2] == 9 * 32)


def test_signal_processing_convolution_is_flipped_correlation():
    w = np.array([1, 2, 3], np.float32).reshape(1, 1, 3)
    assert convkit.conv1d(ONE_TO_SIX, w).ravel().tolist() == [14, 20, 26, 32]
    assert convkit.conv1d(ONE_TO_SIX, w, flip=True).ravel().tolist() == [10, 16, 22, 28]


def test_transposed_convolution_upsamples():
    x = np.array([[1, 2], [3, 4]], np.float32).reshape(1, 1, 2, 2)
    y = convkit.conv_transpose2d(x, np.ones((1, 1, 2, 2), np.float32), stride=2)
    assert y.ravel().tolist() == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]
