"""substitute() on any model: named selections, exclude globs, layers kept dense, and the built-in families' own points."""

import pytest
import torch
from torch import nn

from budgetsearch.errors import ConfigError
from budgetsearch.models import SELECTIONS, create_model, find_model, list_models, selection, substitute
from budgetsearch.substitutes import get_substitute


class SmallNet(nn.Module):
    """One of each kind: a spatial stem, a grouped conv, a 1×1, a spatial conv, two linears."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.depthwise = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.expand = nn.Conv2d(8, 16, 1, bias=False)
        self.body = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.hidden = nn.Linear(16, 32)
        self.classifier = nn.Linear(32, 10)

    def forward(self, x):
        x = self.body(self.expand(self.depthwise(self.stem(x))))
        return self.classifier(torch.relu(self.hidden(x.mean((2, 3)))))


@pytest.mark.parametrize("select, names", [
    ("spatial", ["stem", "body"]),
    ("pointwise", ["expand"]),
    ("convs", ["stem", "expand", "body"]),
    ("linear", ["hidden", "classifier"]),
    ("all", ["stem", "expand", "body", "hidden", "classifier"]),
])
def test_named_selections_pick_their_layer_kinds(select, names):
    model = SmallNet()
    report = substitute(model, "generic", 0.5, select=select)
    assert [r.name for r in report.replaced] == names
    assert all(r.kind == ("linear" if n in ("hidden", "classifier") else "conv") for r, n in zip(report.replaced, names))
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("select, kept", [("spatial", ["depthwise"]), ("convs", ["depthwise"]), ("all", ["depthwise"]),
                                          ("pointwise", []), ("linear", [])])
def test_grouped_convs_stay_dense_and_the_report_says_so(select, kept):
    model = SmallNet()
    report = substitute(model, "tucker", 0.5, select=select)
    assert [k.name for k in report.kept_dense] == kept
    assert all("grouped (groups=8)" == k.reason for k in report.kept_dense)
    assert type(model.depthwise) is nn.Conv2d


def test_exclude_globs_keep_the_stem_and_the_head_dense():
    model = SmallNet()
    report = substitute(model, "generic", 0.5, select="all", exclude=["stem", "class*"])
    assert [r.name for r in report.replaced] == ["expand", "body", "hidden"]
    assert type(model.stem) is nn.Conv2d and type(model.classifier) is nn.Linear


def test_exclude_matches_qualified_names_of_nested_modules():
    model = nn.Sequential(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3)), nn.Conv2d(4, 4, 3))
    report = substitute(model, "separable", exclude="0.*")
    assert [r.name for r in report.replaced] == ["1"]


def _layer_types(model):
    return [(name, type(module)) for name, module in model.named_modules()]


@pytest.mark.parametrize("select, pattern, close", [
    (None, "stm", "stem"),  # a typo of a layer name
    ("all", "clasifier", "classifier"),
    ("linear", "hiden*", "hidden"),
    ("spatial", "expand", None),  # a real layer, but one the selection does not pick: nothing close among its layers
])
def test_an_exclude_glob_that_matches_no_selected_layer_is_refused_naming_close_layers(select, pattern, close):
    model = SmallNet()
    picks = [name for name, module in model.named_modules()
             if isinstance(module, (nn.Conv2d, nn.Linear)) and SELECTIONS[select or "spatial"](name, module)]
    before = _layer_types(model)
    with pytest.raises(ConfigError) as info:
        substitute(model, "generic", 0.5, select=select, exclude=[picks[-1], pattern])  # the second is named
    message = str(info.value)
    assert message.startswith(f"exclude pattern {pattern!r} matches none of the {len(picks)} layers")
    assert f"close layer names: {close}" in message if close else all(name in message for name in picks)
    assert _layer_types(model) == before  # refused before anything was replaced


@pytest.mark.parametrize("select, exclude, reason", [
    ("pointwise", ["expand"], "exclude=['expand'] matches 1"),
    ("linear", ["*"], "exclude=['*'] matches 2"),
    ("spatial", ["stem", "body"], "exclude=['stem', 'body'] matches 2 and 1 cannot be substituted (grouped (groups=8))"),
    (lambda name, module: name == "depthwise", [], "1 cannot be substituted (grouped (groups=8))"),
])
def test_a_choice_that_leaves_nothing_to_substitute_is_refused(select, exclude, reason):
    model = SmallNet()
    before = _layer_types(model)
    with pytest.raises(ConfigError, match="nothing to substitute: ") as info:
        substitute(model, "generic", 0.5, select=select, exclude=exclude)
    assert reason in str(info.value)
    assert _layer_types(model) == before


def test_a_selection_that_picks_no_layer_of_the_model_is_refused():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU())  # no spatial conv, no linear
    for select in ("spatial", "linear"):
        with pytest.raises(ConfigError, match=f"select='{select}' picks no nn.Conv2d or nn.Linear of this model"):
            substitute(model, "generic", 0.5, select=select)
    # left to the caller (the counter reports it): a model the default selection finds nothing in
    assert len(substitute(model, "generic", 0.5)) == 0


def test_a_registered_family_refuses_an_exclude_glob_that_names_none_of_its_points():
    with torch.device("meta"):
        points = create_model("wrn-10-1").substitution_points
        with pytest.raises(ConfigError, match="close layer names: .*groups.0.0.conv1") as info:
            create_model("wrn-10-1", exclude=["groups.0.0.conv"])
    assert f"matches none of the {len(points)} layers the default selection picks" in str(info.value)


def test_a_callable_selection_gets_the_qualified_name_and_the_module():
    model = SmallNet()
    seen = []
    report = substitute(model, "hashed", 0.5, select=lambda name, module: seen.append(name) or name == "body")
    assert [r.name for r in report.replaced] == ["body"]
    assert {"stem", "depthwise", "expand", "body", "hidden", "classifier"} <= set(seen)


def test_the_selection_predicate_agrees_with_substitute():
    predicate = selection("all", exclude=["hidden"])
    model = SmallNet()
    picked = [name for name, module in model.named_modules() if predicate(name, module)]
    assert picked == ["stem", "expand", "body", "classifier"]


def test_the_attention_out_projection_stays_dense():
    # nn.MultiheadAttention reads out_proj.weight itself; replacing the module would be silently ignored.
    model = nn.ModuleDict({"attention": nn.MultiheadAttention(16, 2), "head": nn.Linear(16, 4)})
    report = substitute(model, "generic", 0.5, select="linear")
    assert [r.name for r in report.replaced] == ["head"]
    assert [k.name for k in report.kept_dense] == ["attention.out_proj"]


def test_bad_selection_names_the_allowed_ones():
    with pytest.raises(ConfigError, match="select must be one of spatial, pointwise, convs, linear, all .* select='dense'"):
        substitute(SmallNet(), "separable", select="dense")
    assert set(SELECTIONS) == {"spatial", "pointwise", "convs", "linear", "all"}


def test_a_conv_only_substitute_on_linears_is_refused_before_anything_changes():
    model = SmallNet()
    supporting = "conv, separable, hashed, sep-hashed, generic, lowrank, acdc, tensor-train, tucker, cp"
    with pytest.raises(ConfigError, match=f"'hidden': substitute 'shuffle:2' replaces convolutions only.*: {supporting}"):
        substitute(model, "shuffle", 2, select="all")
    assert all(type(m) in (nn.Conv2d, nn.Linear) for m in model.children())


def test_circular_padding_is_refused_clearly():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"))
    with pytest.raises(ConfigError, match="padding_mode='circular'"):
        substitute(model, "separable")


# One name per registered family; the WRN example (wrn-28-10) is large, so a small one stands in.
FAMILY_NAMES = ["wrn-16-2" if name.startswith("wrn-") and find_model(name)[0].pattern.count("(") == 2 else name
                for name in list_models()]


def _structure(model):
    return [(name, type(module).__name__) for name, module in model.named_modules()]


@pytest.mark.parametrize("name", FAMILY_NAMES)
@pytest.mark.parametrize("setting", ["tucker:0.41", "hashed:0.1", "shuffle:4", "separable"])
def test_default_selection_builds_exactly_what_create_model_builds(name, setting):
    with torch.device("meta"):
        model = create_model(name)
        linear_points = any(isinstance(model.get_submodule(p), nn.Linear) for p in model.substitution_points)
        if linear_points and get_substitute(setting.split(":")[0]).linear is None:
            # A conv-only substitute cannot build a family with linear points, either way.
            with pytest.raises(ConfigError, match="replaces convolutions only"):
                create_model(name, substitute=setting)
            with pytest.raises(ConfigError, match="replaces convolutions only"):
                substitute(model, setting)
            return
        expected = create_model(name, substitute=setting)
        report = substitute(model, setting)
    assert _structure(model) == _structure(expected)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in expected.parameters())
    assert [r.name for r in report.replaced] == list(expected.substitution_points)


def test_wrn_keeps_its_stem_dense():
    # The network the issue measured: create_model's Tucker_0.41 WRN-16-2 has 32,619 parameters.
    model = create_model("wrn-16-2")
    substitute(model, "tucker", 0.41)
    assert type(model.stem) is nn.Conv2d
    assert sum(p.numel() for p in model.parameters()) == 32_619
    assert "stem" not in model.substitution_points and len(model.substitution_points) == 12


def test_an_explicit_selection_overrides_the_recorded_points():
    model = create_model("wrn-16-2")
    report = substitute(model, "separable", select="spatial")
    assert "stem" in [r.name for r in report.replaced]


def test_substituted_linears_keep_features_bias_and_leading_shapes():
    model = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 8, bias=False))
    report = substitute(model, "tensor-train", 0.5, select="linear")
    assert [(r.in_channels, r.out_channels, r.bias) for r in report.replaced] == [(16, 32, True), (32, 8, False)]
    assert [(m.in_features, m.out_features) for m in (model[0], model[2])] == [(16, 32), (32, 8)]
    assert model(torch.randn(2, 5, 16)).shape == (2, 5, 8)
    # 1×1 tensor-train parameters (cores r_{j-1}·d_j·r_j) plus the one bias: (32, 16) → (8, 8, 8) at ranks (4, 4),
    # (8, 32) → (8, 8, 4) at ranks (4, 2).
    tt_16_32 = 8 * 4 + 4 * 8 * 4 + 4 * 8 + 32
    tt_32_8 = 8 * 4 + 4 * 8 * 2 + 2 * 4
    assert sum(p.numel() for p in model.parameters()) == tt_16_32 + tt_32_8
