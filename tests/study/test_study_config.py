"""Study files: every shipped file validates; a file round-trips; bad files name file, key, value and what is allowed."""

from pathlib import Path

import pytest

from budgetsearch.errors import ConfigError
from budgetsearch.study import BudgetSpec, StudyConfig, TunedParam, load_study_config, parse_study
from budgetsearch.study._trial import train_config
from budgetsearch.substitutes import list_substitutes

STUDIES = sorted((Path(__file__).resolve().parents[2] / "studies").glob("*.toml"))

FULL = """
name = "full"
model = "wrn-16-2"
dataset = "cifar10:data/cifar-10-batches-py"
substitutes = ["tucker", "acdc"]
budgets = ["1.2M", "0.1x", 600000, {params = "0.2x", mult_adds = "30M"}]
seeds = [3, 5]
distillation = "train"

[training]
epochs = 3
batch_size = 64
lr = 0.05
weight_decay = 1e-4
schedule = "original-steps"
milestones = [1, 2]
gamma = 0.5
crs_weight_decay = false

[pruning]
pruner = "hyperband"
reduction_factor = 2

[tuning]
trials = 4
sampler = "random"
lr = {low = 0.01, high = 0.3}
weight_decay_scale = {low = 0.1, high = 10.0}

[storage]
url = "postgresql://postgres@127.0.0.1/test"
heartbeat_interval = 5
grace_period = 20
"""


def write(tmp_path, text, name="study.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_studies_exist():
    assert {p.name for p in STUDIES} >= {"quickstart.toml", "cifar10-mini.toml", "wrn-28-10-cifar10.toml"}


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_shipped_study_validates_and_round_trips(path):
    config = load_study_config(path)
    assert config.name == path.stem
    assert parse_study(config.to_dict(), "again") == config


def test_every_field_is_read_as_written(tmp_path):
    config = load_study_config(write(tmp_path, FULL))
    assert (config.name, config.model, config.dataset) == ("full", "wrn-16-2", "cifar10:data/cifar-10-batches-py")
    assert config.input_size == (3, 32, 32) and config.num_classes == 10  # CIFAR-10's, not the digits default
    assert config.substitutes == ("tucker", "acdc")
    assert config.budgets == (BudgetSpec("1.2M"), BudgetSpec("0.1x"), BudgetSpec(600000), BudgetSpec("0.2x", "30M"))
    assert [b.label for b in config.budgets] == ["1.2M", "0.1x", "600000", "0.2x@30M"]
    assert config.seeds == (3, 5)
    assert config.distillation.teacher == "train" and config.distillation.beta == 1e3
    t = config.training
    assert (t.epochs, t.batch_size, t.lr, t.weight_decay, t.schedule, t.crs_weight_decay) == \
        (3, 64, 0.05, 1e-4, "original-steps", False)
    assert (t.milestones, t.gamma) == ((1, 2), 0.5)
    assert t.momentum == 0.9  # not given: the default
    assert config.pruning.pruner == "hyperband" and config.pruning.reduction_factor == 2
    assert config.tuning.trials == 4 and config.tuning.sampler == "random"
    assert config.tuning.params == (TunedParam("lr", 0.01, 0.3, True), TunedParam("weight_decay_scale", 0.1, 10.0))
    assert config.storage.url == "postgresql://postgres@127.0.0.1/test"
    assert (config.storage.heartbeat_interval, config.storage.grace_period) == (5, 20)
    assert parse_study(config.to_dict()) == config


def test_defaults_of_a_minimal_file(tmp_path):
    config = load_study_config(write(tmp_path, "", name="tiny.toml"))
    assert config == StudyConfig(name="tiny")
    assert config.dataset == "digits" and config.input_size == (1, 8, 8) and config.seeds == (0,)
    assert config.storage.url is None and config.pruning.pruner == "none" and not config.tuning.enabled


def test_all_substitutes_means_every_registered_one_but_dense(tmp_path):
    config = load_study_config(write(tmp_path, 'substitutes = "all"'))
    assert config.substitutes == tuple(n for n in list_substitutes() if n != "conv")
    assert len(config.substitutes) == len(list_substitutes()) - 1


def test_seeds_count_and_preset(tmp_path):
    config = load_study_config(write(tmp_path, 'seeds = 3\n[training]\npreset = "original"\nlr = 0.05'))
    assert config.seeds == (0, 1, 2)
    # The original protocol: 200 epochs on the 60/120/160 step schedule; the file's lr overrides the preset's.
    assert (config.training.epochs, config.training.schedule, config.training.lr) == (200, "original-steps", 0.05)
    assert (config.training.milestones, config.training.gamma) == ((60, 120, 160), 0.2)


def test_replace_follows_a_new_dataset(tmp_path):
    config = load_study_config(write(tmp_path, ""))
    moved = config.replace(dataset="cifar100:/data/c100")
    assert moved.dataset == "cifar100:/data/c100" and moved.input_size == (3, 32, 32) and moved.num_classes == 100


@pytest.mark.parametrize("text, key, value, allowed", [
    ("epochs = 3", "'epochs'", "3", "allowed keys:"),  # a training key at the top level
    ("[training]\nepoch = 3", "'training.epoch'", "3", "allowed keys:"),
    ('[training]\nepochs = "3"', "training.epochs", "'3'", "an integer"),
    ("[training]\nepochs = 0", "training.epochs", "0", "an int in [1, 10000]"),
    ("[training]\nlr = -0.1", "training.lr", "-0.1", "a finite number in (0, inf)"),
    ("[training]\ncrs_weight_decay = 1", "training.crs_weight_decay", "1", "a boolean"),
    ('[training]\nschedule = "linear"', "training.schedule", "'linear'", "('cosine', 'original-steps')"),
    ("[training]\nmilestones = [120, 60]", "training.milestones", "(120, 60)", "strictly increasing ints >= 1"),
    ("[training]\ngamma = 0", "training.gamma", "0", "a finite number in (0, inf)"),
    ('[training]\noptimizer = "adam"', "training.optimizer", "'adam'", "('sgd', 'adamw')"),
    ("[training]\nbetas = [0.9]", "training.betas", "(0.9,)", "two numbers in [0, 1)"),
    ("[training]\nwarmup_epochs = -1", "training.warmup_epochs", "-1", "a finite number in [0, inf)"),
    ("[training]\nlabel_smoothing = 1", "training.label_smoothing", "1", "in [0, 1)"),
    ("[training]\ngrad_clip = 0", "training.grad_clip", "0", "a finite number in (0, inf)"),
    ('[training]\npreset = "fast"', "training.preset", "'fast'", "'original'"),
    ('model = "resnet-9"', "model", "'resnet-9'", "wrn-28-10"),
    ('dataset = "mnist"', "dataset", "'mnist'", "'digits', 'cifar10:PATH' or 'cifar100:PATH'"),
    ('dataset = "cifar10"', "dataset", "'cifar10'", "'cifar10:PATH'"),
    ('input_size = [1, 8]', "input_size", "[1, 8]", "[C, H, W]"),
    ('substitutes = ["tucker", "fft"]', "substitutes", "['tucker', 'fft']", "sep-hashed"),
    ('substitutes = []', "substitutes", "[]", "'all' or a non-empty list"),
    ('budgets = ["1.2Q"]', "budgets[0]", "'1.2Q'", "'1.2M'"),
    ('budgets = ["1.5x"]', "budgets[0]", "'1.5x'", "fraction of dense"),
    ('budgets = ["1M", "1M"]', "budgets", "['1M', '1M']", "labels must be distinct"),
    ('budgets = [{params = "1M", flops = "3M"}]', "'budgets[0].flops'", "'3M'", "allowed keys: mult_adds, params"),
    ("seeds = 0", "seeds", "0", "an integer N in [1, 10000]"),
    ("seeds = 9223372036854775807", "seeds", "9223372036854775807", "an integer N in [1, 10000]"),
    ("seeds = [18446744073709551616]", "seeds", "[18446744073709551616]", "integers in [0, 18446744073709551615]"),
    ("[training]\nwarmup_epochs = 3\nepochs = 2", "training.warmup_epochs", "3", "at most epochs (2)"),
    ("[training]\nseed = 3", "training.seed", "3", "the top-level key seeds"),
    ("[training]\nvalidation_size = 0", "training.validation_size", "0", "ranks trials by validation error"),
    ("[training]\nepochs = 100000000", "training.epochs", "100000000", "an int in [1, 10000]"),
    ('budgets = ["1e999999"]', "budgets[0]", "'1e999999'", "at most 1e+15"),
    ('budgets = ["1e-400x"]', "budgets[0]", "'1e-400x'", "fraction must be in (0, 1]"),
    ("[training]\nlr = inf", "training.lr", "inf", "a finite number"),
    ("[training]\nweight_decay = inf", "training.weight_decay", "inf", "a finite number"),
    ("[training]\ngamma = inf", "training.gamma", "inf", "a finite number"),
    ("[training]\nlr = nan", "training.lr", "nan", "a finite number"),
    ("[distillation]\nteacher = 'train'\nbeta = inf", "distillation.beta", "inf", "a finite number"),
    ("[distillation]\nteacher = 'train'\ntemperature = inf", "distillation.temperature", "inf", "a finite number"),
    ("[tuning]\ntrials = 2\nlr = {low = 0.01, high = inf}", "tuning.lr.high", "inf", "a finite number"),
    (f"x{'y' * 60_000} = 1", "x", "1", "... (60,"),  # a long unknown key is cut, not echoed whole
    ("seeds = [1, 1]", "seeds", "[1, 1]", "distinct integers"),
    ('pruning = "sometimes"', "pruning", "'sometimes'", "'none' or 'median' or 'hyperband'"),
    ("[pruning]\nn_warmup_steps = -1", "pruning.n_warmup_steps", "-1", "an integer >= 0"),
    ('distillation = ""', "distillation", "''", "'train'"),
    ("[tuning]\ntrials = 2", "tuning.trials", "2", "lr = {low = 0.01"),
    ("[tuning]\ntrials = 2\nbatch_size = {low = 1, high = 2}", "'tuning.batch_size'", "",
     "allowed keys: lr, momentum, sampler, trials, weight_decay_scale"),
    ("[tuning]\ntrials = 2\nlr = {low = 0.3, high = 0.1}", "tuning.lr.high", "0.1", "a number > low (0.3)"),
    ('storage = "runs/db"', "storage", "'runs/db'", "postgresql://"),
    ("[storage]\nheartbeat_interval = 10\ngrace_period = 5", "storage.grace_period", "5", "> heartbeat_interval"),
])
def test_bad_study_names_file_key_value_and_allowed(tmp_path, text, key, value, allowed):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_study_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert key in message and value in message and allowed in message, message
    assert len(message) < 1000 and "\n" not in message  # one line, a long value cut


def test_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_study_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_study_config(write(tmp_path, "epochs = = 3"))


def test_the_vit_training_keys_reach_the_trainer(tmp_path):
    text = ('[training]\noptimizer = "adamw"\nbetas = [0.9, 0.98]\nwarmup_epochs = 0.5\nlabel_smoothing = 0.1\n'
            'grad_clip = 1\n')
    config = load_study_config(write(tmp_path, text))
    trainer = train_config(config, {"role": "student", "seed": 0}, {}, "cpu", tmp_path)
    assert (trainer.optimizer, trainer.betas, trainer.warmup_epochs, trainer.label_smoothing, trainer.grad_clip) == \
        ("adamw", (0.9, 0.98), 0.5, 0.1, 1.0)
    assert parse_study(config.to_dict()) == config
    assert train_config(load_study_config(write(tmp_path, "")), {"role": "student", "seed": 0}, {}, "cpu",
                        tmp_path).optimizer == "sgd"


def test_a_key_the_file_writes_is_given_but_a_stored_study_writes_every_key_out(tmp_path):
    config = load_study_config(write(tmp_path, '[training]\noptimizer = "adamw"\n'))
    stored = config.to_dict()
    assert stored["training"]["momentum"] == 0.9  # SGD's default, written out with the rest
    assert parse_study(stored) == config and config.replace({"training.epochs": 2}).training.epochs == 2
    toml = tmp_path / "written.toml"
    toml.write_text('[training]\noptimizer = "adamw"\nmomentum = 0.9\n')
    with pytest.raises(ConfigError, match=f"{toml}: training.momentum = 0.9 is an option of optimizer 'sgd' only"):
        load_study_config(toml)


def test_the_trainer_gets_the_files_training_settings(tmp_path):
    config = load_study_config(write(tmp_path, FULL))
    trainer = train_config(config, {"role": "student", "seed": 3}, {}, "cpu", tmp_path)
    assert (trainer.epochs, trainer.batch_size, trainer.schedule, trainer.milestones, trainer.gamma, trainer.seed) == \
        (3, 64, "original-steps", (1, 2), 0.5, 3)


# The options of the optimizers other than each one (a study file that writes one is refused).
_OTHER_OPTIMIZERS = {"sgd": ("betas",), "adamw": ("momentum",)}


def test_the_reference_study_file_writes_out_every_key():
    import dataclasses
    import tomllib

    from budgetsearch.study import StudyConfig
    from budgetsearch.study._config import _PER_TRIAL

    path = next(p for p in STUDIES if p.name == "wrn-28-10-cifar10.toml")
    text = path.read_text()
    written = tomllib.loads(text)
    for top in dataclasses.fields(StudyConfig):
        if top.name == "source":
            continue
        if top.default is None and top.name not in written:  # TOML has no null: a none default is a comment
            assert f"# {top.name} = " in text, top.name
            continue
        assert top.name in written, top.name
        nested = StudyConfig.__dataclass_fields__[top.name].default_factory \
            if top.default_factory is not dataclasses.MISSING else None
        for sub in dataclasses.fields(nested) if dataclasses.is_dataclass(nested) else ():
            if top.name == "training" and sub.name in _PER_TRIAL:  # set per trial, not in the file
                continue
            if (top.name, sub.name) == ("storage", "url"):  # a URL would move the study off its journal file
                assert "# url = " in text
            elif (sub.default is None or top.name == "training"
                  and sub.name in _OTHER_OPTIMIZERS[written["training"]["optimizer"]]) \
                    and sub.name not in written[top.name]:  # another optimizer's option would be refused
                assert f"# {sub.name} = " in text, f"{top.name}.{sub.name}"
            elif (top.name, sub.name) == ("tuning", "params"):  # tuned parameters are tables named after them
                assert "lr = {low = " in text
            else:
                assert sub.name in written[top.name], f"{top.name}.{sub.name}"


@pytest.mark.parametrize("text, key, value", [
    ("training.epochs=1", "training.epochs", 1),
    ('substitutes=["tucker", "cp"]', "substitutes", ["tucker", "cp"]),
    ("model=wrn-16-4", "model", "wrn-16-4"),  # a bare word is a string
    ("training.lr = 0.05", "training.lr", 0.05),
])
def test_a_setting_override_is_a_dotted_key_and_a_toml_value(text, key, value):
    from budgetsearch.study import parse_assignment

    assert parse_assignment(text) == (key, value)


def test_overrides_are_validated_with_the_whole_study(tmp_path):
    config = load_study_config(write(tmp_path, ""))
    changed = config.replace({"training.epochs": 2, "training.warmup_epochs": 1, "seeds": 2})
    assert (changed.training.epochs, changed.training.warmup_epochs, changed.seeds) == (2, 1.0, (0, 1))
    with pytest.raises(ConfigError, match=r"training.warmup_epochs must be at most epochs \(1\)"):
        config.replace({"training.epochs": 1, "training.warmup_epochs": 3})
    with pytest.raises(ConfigError, match="'name' is not a table"):
        config.replace({"name.x": 1})


def test_run_refuses_a_bad_override_before_anything_is_queued(tmp_path, capsys):
    from budgetsearch import cli

    path = write(tmp_path, "")
    assert cli.main(["run", str(path), "--set", "training.warmup_epochs=99", "--runs-dir", str(tmp_path)]) == 2
    assert "training.warmup_epochs must be at most epochs (10)" in capsys.readouterr().err
    assert not (tmp_path / "study").exists()
