"""project() over a whole model built by create_model: every substitution point, the rest copied, bad input refused."""

import math

import pytest
import torch

from budgetsearch.errors import ConfigError
from budgetsearch.models import create_model
from budgetsearch.projection import effective_weight, geometry_of, project

WRN, VIT = "wrn-10-1", "vit-1-64"


def models(name, substitute, setting=None):
    dense = create_model(name, num_classes=10, substitute="conv")
    substituted = create_model(name, num_classes=10, substitute=substitute, setting=setting)
    return dense, substituted


def calibration():
    return torch.randn(8, 3, 32, 32)


@pytest.mark.parametrize("name", [WRN, VIT])
def test_projecting_onto_dense_layers_gives_the_dense_model_back(name):
    dense, substituted = models(name, "conv")
    with torch.no_grad():  # make the dense model's norms and classifier differ from a fresh build
        for parameter in dense.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    batch = calibration()
    report = project(dense, substituted, calibration=batch)  # exact copies: the dense statistics stay
    assert report.batch_norms_reestimated == 0
    dense.eval(), substituted.eval()
    torch.testing.assert_close(substituted(batch), dense(batch))
    assert [layer.name for layer in report.layers] == list(substituted.substitution_points)
    assert report.weight_error == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name, substitute, setting", [(WRN, "generic", 0.3), (WRN, "tucker", 0.4),
                                                       (VIT, "kronecker", 2), (VIT, "monarch", 4)])
def test_every_point_is_projected_and_measured(name, substitute, setting):
    dense, substituted = models(name, substitute, setting)
    batch = calibration()
    report = project(dense, substituted, calibration=batch)
    dense_modules, substituted_modules = dict(dense.named_modules()), dict(substituted.named_modules())
    inputs = {}
    hooks = [dense_modules[n].register_forward_pre_hook(lambda m, args, n=n: inputs.__setitem__(n, args[0]))
             for n in substituted.substitution_points]
    dense.eval()
    with torch.no_grad():
        dense(batch)
    for hook in hooks:
        hook.remove()
    for record in report.layers:
        original, layer = dense_modules[record.name], substituted_modules[record.name]
        with torch.no_grad():
            difference = effective_weight(layer, geometry_of(original)) - original.weight
            weight_error = difference.norm() / original.weight.norm()
            reference = original(inputs[record.name])
            output_error = (layer(inputs[record.name]) - reference).norm() / reference.norm()
        assert record.method == "closed" and repr(substitute) in record.family
        assert record.weight_error == pytest.approx(weight_error.item(), rel=1e-4)
        assert record.output_error == pytest.approx(output_error.item(), rel=1e-4)
        assert 0 < record.weight_error < 1
    pooled = math.sqrt(sum((r.weight_error * r.weight_norm) ** 2 for r in report.layers)
                       / sum(r.weight_norm ** 2 for r in report.layers))
    assert report.weight_error == pytest.approx(pooled)
    # Outside the substitution points every parameter is the dense model's (the batch norms' running statistics
    # are recomputed: the test below).
    points = substituted.substitution_points
    dense_parameters = dict(dense.named_parameters())
    for key, value in substituted.named_parameters():
        if not any(key.startswith(p + ".") for p in points):
            assert torch.equal(value, dense_parameters[key]), key


def _batch_norms(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def test_batch_norm_statistics_are_the_projected_models_own_on_the_calibration_batch():
    torch.manual_seed(0)
    dense, substituted = models(WRN, "generic", 0.3)
    with torch.no_grad():  # running statistics a trained dense model would carry
        for norm in _batch_norms(dense):
            norm.running_mean.normal_()
            norm.running_var.uniform_(0.5, 2.0)
    batch = calibration()
    report = project(dense, substituted, calibration=batch)
    norms = _batch_norms(substituted)
    dense_norms = dict(zip(norms, _batch_norms(dense)))
    assert report.batch_norms_reestimated == len(norms) == 7  # wrn-10-1: 3 blocks of 2, and the last
    assert report.to_dict()["batch_norms_reestimated"] == 7
    # In eval mode each norm's input, over the batch and positions, has the mean and (unbiased) variance its
    # running statistics hold: they describe this network, not the dense one. (Not exactly: while they were
    # measured each norm divided by the biased variance, so later inputs differ by about 1 / (2 * 8 * 32 * 32).)
    seen = {}
    hooks = [norm.register_forward_pre_hook(lambda m, args: seen.__setitem__(m, args[0])) for norm in norms]
    substituted.eval()
    with torch.no_grad():
        substituted(batch)
    for hook in hooks:
        hook.remove()
    for norm in norms:
        torch.testing.assert_close(norm.running_mean, seen[norm].mean((0, 2, 3)), rtol=1e-3, atol=1e-3)
        torch.testing.assert_close(norm.running_var, seen[norm].var((0, 2, 3)), rtol=1e-3, atol=1e-3)
        assert not torch.allclose(norm.running_var, dense_norms[norm].running_var, rtol=0.1)
        assert norm.momentum == 0.1 and norm.num_batches_tracked == 1
    assert all(module.training for module in substituted.modules()) is False


def test_without_a_calibration_batch_the_dense_statistics_stay():
    dense, substituted = models(WRN, "generic", 0.3)
    with torch.no_grad():
        for norm in _batch_norms(dense):
            norm.running_mean.normal_()
    report = project(dense, substituted)
    assert report.batch_norms_reestimated == 0
    for ours, theirs in zip(_batch_norms(substituted), _batch_norms(dense)):
        assert torch.equal(ours.running_mean, theirs.running_mean)


def test_whitened_is_no_worse_on_the_calibration_batch_than_plain_svd():
    dense, plain = models(WRN, "generic", 0.2)
    _, whitened = models(WRN, "generic", 0.2)
    batch = calibration()
    plain_report = project(dense, plain, "closed", batch)
    whitened_report = project(dense, whitened, "whitened", batch)
    for closed, aware in zip(plain_report.layers, whitened_report.layers):
        assert aware.method == "whitened"
        assert aware.output_error <= closed.output_error + 1e-6


def test_fit_projects_a_model_of_a_family_without_a_closed_form():
    dense, substituted = models(VIT, "acdc", 2)
    report = project(dense, substituted, "fit", calibration(), steps=5)
    assert {record.method for record in report.layers} == {"fit"}
    assert report.output_error is not None and math.isfinite(report.output_error)


def test_a_family_without_a_closed_form_is_named():
    dense, substituted = models(WRN, "acdc", 2)
    with pytest.raises(ConfigError, match=r"'groups\.0\.0\.conv1'.*ACDCPointwise \(substitute 'acdc'\).*method='fit'"):
        project(dense, substituted)


@pytest.mark.parametrize("method, batch, message", [
    ("svd", None, "method must be one of closed, fit, whitened, but got method='svd'"),
    ("whitened", None, "needs a calibration batch"),
    ("closed", torch.full((2, 3, 32, 32), math.nan), "calibration batch holds NaN"),
])
def test_bad_arguments_are_refused(method, batch, message):
    dense, substituted = models(WRN, "generic", 0.3)
    with pytest.raises(ConfigError, match=message):
        project(dense, substituted, method, batch)


def test_models_of_different_architectures_are_refused():
    dense = create_model("wrn-10-2", num_classes=10)
    substituted = create_model(WRN, num_classes=10, substitute="generic", setting=0.3)
    with pytest.raises(ConfigError, match="differ outside the substitution points"):
        project(dense, substituted)


def test_a_model_without_substitution_points_is_refused():
    dense = create_model(WRN, num_classes=10)
    with pytest.raises(ConfigError, match="records no substitution points"):
        project(dense, torch.nn.Sequential(torch.nn.Linear(2, 2)))
