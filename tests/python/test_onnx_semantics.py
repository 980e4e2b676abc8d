"""ONNX ConvTranspose, hand-checked: each attribute and each trap of SEMANTICS.md on inputs small enough to
work out on paper (the working is in the comments). ONNX's own backend cases run in the C++ suite."""
import numpy as np
import pytest

from tconv.onnx import conv_transpose

X = np.array([[[1.0, 2.0, 3.0]]])  # N=1, C=1, i=3
W = np.ones((1, 1, 3))  # C=1, M=1, k=3


def run(x=X, w=W, b=None, **attrs):
    return conv_transpose(x, w, b, **attrs)[0, 0].tolist()


def test_defaults_are_the_full_scatter():
    # x0 at 0..2, x1 at 1..3, x2 at 2..4: [1, 1+2, 1+2+3, 2+3, 3]
    assert run() == [1, 3, 6, 5, 3]


def test_strides():
    # x0 at 0..2, x1 at 2..4, x2 at 4..6: [1, 1, 1+2, 2, 2+3, 3, 3]
    assert run(strides=[2]) == [1, 1, 3, 2, 5, 3, 3]


def test_pads_crop_begin_then_end():
    # pads = [begin, end] = [1, 2] crops [1, 1, 3, 2, 5, 3, 3] to [1, 3, 2, 5]
    assert run(strides=[2], pads=[1, 2]) == [1, 3, 2, 5]


def test_output_padding_is_computed_not_zero_filled():
    # one more position at the end; nothing reaches it, so it holds the bias (10), not 0
    assert run(b=np.array([10.0]), strides=[2], output_padding=[1]) == [11, 11, 13, 12, 15, 13, 13, 10]
    # an end pad of 1 and an output padding of 1 cancel: the full output again
    assert run(strides=[2], pads=[0, 1], output_padding=[1]) == [1, 1, 3, 2, 5, 3, 3]


def test_dilations():
    # taps at 0, 2, 4: x0 -> 0,2,4; x1 -> 1,3,5; x2 -> 2,4,6
    assert run(dilations=[2]) == [1, 2, 4, 2, 4, 2, 3]


def test_auto_pad_same_upper_crops_the_end_and_same_lower_the_begin():
    # i*s = 6 of the full 7: SAME_UPPER drops the last, SAME_LOWER the first
    assert run(strides=[2], auto_pad="SAME_UPPER") == [1, 1, 3, 2, 5, 3]
    assert run(strides=[2], auto_pad="SAME_LOWER") == [1, 3, 2, 5, 3, 3]


def test_auto_pad_same_with_a_kernel_shorter_than_the_stride_grows_the_end():
    # k=1, s=3: full = 7 but i*s = 9: two zeros at the end
    assert run(w=np.ones((1, 1, 1)), strides=[3], auto_pad="SAME_UPPER") == [1, 0, 0, 2, 0, 0, 3, 0, 0]


def test_auto_pad_valid_is_no_padding():
    assert run(strides=[2], auto_pad="VALID", pads=[1, 1]) == [1, 1, 3, 2, 5, 3, 3]


def test_output_shape_puts_the_larger_half_first_and_ignores_pads():
    # total = 7 - 6 = 1 goes to the begin (like SAME_LOWER); pads are ignored
    assert run(strides=[2], output_shape=[6], pads=[0, 3]) == [1, 3, 2, 5, 3, 3]
    assert run(strides=[2], output_shape=[6], auto_pad="SAME_UPPER") == [1, 1, 3, 2, 5, 3]


def test_output_shape_larger_than_full_grows_at_the_end():
    # total = 7 - 8 = -1: floor split puts 0 at the begin and -1 at the end (ONNX's test_convtranspose_output_shape)
    assert run(strides=[2], output_shape=[8]) == [1, 1, 3, 2, 5, 3, 3, 0]


def test_group_one_output_per_group():
    x = np.array([[[1.0, 2, 3], [4, 5, 6]]])
    w = np.array([[[1.0, 1, 1]], [[1.0, 0, -1]]])  # (C=2, M/group=1, 3)
    y = conv_transpose(x, w, group=2)[0].tolist()
    # channel 1: 4 at 0..2 times (1,0,-1), 5 at 1..3, 6 at 2..4: [4, 5, 6-4, -5, -6]
    assert y == [[1, 3, 6, 5, 3], [4, 5, 2, -5, -6]]


def test_group_several_outputs_per_group_the_reference_implementation_trap():
    x = np.array([[[1.0, 2], [3, 4]]])
    w = np.array([[[2.0], [3.0]], [[5.0], [7.0]]])  # (C=2, M/group=2, k=1): group j feeds outputs 2j, 2j+1
    y = conv_transpose(x, w, group=2)[0].tolist()
    assert y == [[2, 4], [3, 6], [15, 20], [21, 28]]


def test_pads_order_is_all_begins_then_all_ends():
    x = np.array([[[[1.0, 2], [3, 4]]]])
    w = np.ones((1, 1, 2, 2))
    full = conv_transpose(x, w)[0, 0].tolist()
    assert full == [[1, 3, 2], [4, 10, 6], [3, 7, 4]]
    assert conv_transpose(x, w, pads=[1, 0, 0, 0])[0, 0].tolist() == [[4, 10, 6], [3, 7, 4]]  # x1_begin: rows
    assert conv_transpose(x, w, pads=[0, 1, 0, 0])[0, 0].tolist() == [[3, 2], [10, 6], [7, 4]]  # x2_begin: columns
    assert conv_transpose(x, w, pads=[0, 0, 0, 1])[0, 0].tolist() == [[1, 3], [4, 10], [3, 7]]  # x2_end


def test_kernel_flip_is_not_applied_to_the_scatter():
    # the scatter uses w as stored: a single 1 spreads the kernel in order
    y = run(x=np.array([[[1.0]]]), w=np.array([[[1.0, 2, 3]]]))
    assert y == [1, 2, 3]


@pytest.mark.parametrize("attrs,needle", [
    ({"kernel_shape": [2]}, "kernel_shape"),
    ({"auto_pad": "SAME"}, "auto_pad"),
    ({"pads": [1]}, "pads"),
    ({"pads": [-1, 0]}, "negative"),
    ({"output_padding": [2], "strides": [2]}, "output_padding"),
    ({"output_shape": [0]}, "output_shape"),
    ({"group": 0}, "group"),
])
def test_invalid_attributes(attrs, needle):
    with pytest.raises(ValueError, match=needle):
        run(**attrs)
