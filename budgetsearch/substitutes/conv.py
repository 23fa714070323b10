"""Dense convolution: the reference every substitute is compared with."""

from torch import nn

from ._blocks import check_geometry, he_fan_out_
from ._registry import Substitute, register_substitute


def dense_conv(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False) -> nn.Conv2d:
    """``nn.Conv2d`` with the WideResNet He fan-out init."""
    kernel, stride, padding, dilation = check_geometry(in_channels, out_channels, kernel_size, stride, padding, dilation)
    return he_fan_out_(nn.Conv2d(in_channels, out_channels, kernel, stride, padding, dilation, bias=bias))


register_substitute(Substitute(
    name="conv",
    build=dense_conv,
    hyperparameter=None,
    original_name="Conv",
    summary="dense k×k convolution (the baseline)",
))
