"""The FIR resampling ops against torch's grouped convolutions: same values, same first and second derivatives
(R1 and R2 differentiate D's input gradient), and the second derivative without the filter's gradient."""

import pytest
import torch
import torch.nn.functional as F

from models.resample import FIR_121, FIR_1331, blur, downsample, fir_kernel, upsample

ASYMMETRIC = (1.0, 5.0, 2.0)  # a filter that is not its own flip


def _grouped(kernel: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return kernel.expand(x.shape[1], 1, *kernel.shape)


def _by_torch(op: str, x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
    """The same op as plain F.conv2d / F.conv_transpose2d with groups = channels (torch's autograd)."""
    taps, groups = kernel.shape[0], x.shape[1]
    if op == "blur":
        return F.conv2d(F.pad(x, (pad[0], pad[1], pad[0], pad[1])), _grouped(kernel.flip(0, 1), x), groups=groups)
    if op == "upsample":
        return F.conv_transpose2d(x, _grouped(kernel * 4, x), stride=2, padding=(taps - 2) // 2 + (taps % 2),
                                  output_padding=taps % 2, groups=groups)
    return F.conv2d(x, _grouped(kernel, x), stride=2, padding=(taps - 1) // 2, groups=groups)


def _ours(op: str, x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
    return blur(x, kernel, pad) if op == "blur" else {"upsample": upsample, "downsample": downsample}[op](x, kernel)


CASES = [("blur", FIR_121, (1, 1)), ("blur", FIR_1331, (1, 2)), ("blur", ASYMMETRIC, (2, 2)),
         ("blur", ASYMMETRIC, (0, 0)), ("upsample", FIR_1331, None), ("upsample", FIR_121, None),
         ("downsample", FIR_1331, None), ("downsample", FIR_121, None)]


@pytest.mark.parametrize(("op", "taps", "pad"), CASES)
def test_values_and_two_derivatives_equal_torchs_grouped_convolution(op, taps, pad):
    torch.manual_seed(0)
    kernel = fir_kernel(taps).double()
    weight = torch.randn(3, 3, 3, 3, dtype=torch.double, requires_grad=True)  # a conv before: D's parameters
    x = torch.randn(2, 3, 9, 7, dtype=torch.double, requires_grad=True)  # odd sizes: output padding

    def penalty(resample):
        out = resample(op, F.conv2d(x, weight, padding=1), kernel, pad)
        (grad,) = torch.autograd.grad((out * out.detach().cos()).sum(), x, create_graph=True)
        return out, grad, grad.square().sum()  # R1's shape: the input gradient's squared norm

    ours, theirs = penalty(_ours), penalty(_by_torch)
    for a, b in zip(ours[:2], theirs[:2], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    second_ours = torch.autograd.grad(ours[2], weight)[0]
    second_theirs = torch.autograd.grad(theirs[2], weight)[0]
    torch.testing.assert_close(second_ours, second_theirs, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradgradcheck(lambda v: _ours(op, v, kernel, pad), (x,))


def test_the_second_derivative_never_takes_the_filters_gradient_group_by_group():
    """torch's grouped convolution computes the constant filter's gradient in R1's backward, one convolution per
    channel (the cost this op removes); ours runs a handful of convolutions whatever the channel count."""
    channels = 24
    kernel = fir_kernel(FIR_121)

    def convolutions(resample) -> int:
        x = torch.randn(4, channels, 8, 8, requires_grad=True)
        with torch.profiler.profile() as profile:
            (grad,) = torch.autograd.grad(resample("blur", x, kernel, (1, 1)).square().sum(), x, create_graph=True)
            grad.square().sum().backward()
        return sum(e.count for e in profile.key_averages() if e.key == "aten::convolution")

    assert convolutions(_by_torch) >= channels  # the reference shows the cost exists on this torch
    assert convolutions(_ours) <= 4
