"""Every malformed input of issue 14, through the CLI: one line naming what was wrong, a non-zero exit, no traceback.

Each case runs ``cli.main`` under an alarm, so a hang fails the case instead of the suite. The cases are the
table quoted in the issue's closing note: inputs tried, clean errors, tracebacks (0), hangs (0), silent
acceptances (0: every case must be refused).
"""

import os
import signal
import sqlite3

import pytest
import torch

from budgetsearch import cli
from crafted import crafted_checkpoint

STUDY = 'name = "bad"\nmodel = "wrn-10-1"\nsubstitutes = ["generic"]\nbudgets = ["0.1x"]\n[training]\nepochs = 1\n'
SECONDS = 30  # far longer than any refusal takes; a hang today took minutes or never ended
MARK = "ran"  # a file the commands some cases smuggle in would create; it must never exist


def study_file(tmp, text=STUDY, name="bad.toml"):
    path = tmp / name
    path.write_text(text)
    return str(path)


def bytes_file(tmp, data: bytes, name="bad.toml"):
    path = tmp / name
    path.write_bytes(data)
    return str(path)


def sqlite_with_damage(tmp):
    path = tmp / "damaged.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
        db.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * 200)
    data = bytearray(path.read_bytes())
    data[200:4096] = b"\xa5" * 3896  # the schema page overwritten past the file header: "disk image is malformed"
    path.write_bytes(bytes(data))
    return f"sqlite:///{path}"


# (case id, argv builder given the test's folder, text the error line must hold)
CASES = [
    # study files that cannot be read
    ("non-utf8", lambda t: ["status", bytes_file(t, b'name = "\xff\xfe"\n')], "not UTF-8"),
    ("directory", lambda t: ["run", str(t)], "not a regular file (a directory)"),
    ("fifo", lambda t: (os.mkfifo(t / "fifo.toml"), ["run", str(t / "fifo.toml")])[1], "a device, FIFO or socket"),
    ("symlink-loop", lambda t: (os.symlink(t / "loop.toml", t / "loop.toml"), ["run", str(t / "loop.toml")])[1],
     "cannot be read"),
    ("path-under-a-file", lambda t: ["run", study_file(t) + "/x.toml"], "cannot be read"),
    ("name-too-long", lambda t: ["run", str(t / ("x" * 300 + ".toml"))], "cannot be read"),
    pytest.param("unreadable", lambda t: ["run", (study_file(t), os.chmod(t / "bad.toml", 0))[0]], "Permission denied",
                 marks=pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")),
    ("dev-zero", lambda t: ["run", "/dev/zero"], "a device, FIFO or socket"),
    ("deep-nesting", lambda t: ["run", study_file(t, "x = " + "[" * 50_000 + "]" * 50_000)], "nested too deeply"),
    ("huge-file", lambda t: ["run", study_file(t, "# " + "x" * 2_000_000)], "larger than"),
    # values
    ("seeds-huge", lambda t: ["run", study_file(t, "seeds = 9223372036854775807\n" + STUDY)],
     "seeds = 9223372036854775807"),
    ("budget-1e999999", lambda t: ["run", study_file(t, STUDY.replace('"0.1x"', '"1e999999"'))], "at most 1e+15"),
    ("solve-budget-1e9999999", lambda t: ["solve", "--model", "wrn-10-1", "--budget", "1e9999999"], "at most 1e+15"),
    ("solve-budget-1e-400x", lambda t: ["solve", "--model", "wrn-10-1", "--budget", "1e-400x"], "(0, 1]"),
    ("epochs-huge", lambda t: ["run", study_file(t, STUDY.replace("epochs = 1", "epochs = 100000000"))],
     "training.epochs must be an int in [1, 10000], but got 100000000"),
    ("count-num-classes-negative", lambda t: ["count", "--model", "wrn-10-1", "--num-classes=-5"], "'-5'"),
    ("count-num-classes-zero", lambda t: ["count", "--model", "wrn-10-1", "--num-classes=0"], "'0'"),
    ("count-input-size-huge", lambda t: ["count", "--model", "wrn-10-1", "--input-size", "3,100000,100000"],
     "'3,100000,100000'"),
    ("curves-points-huge", lambda t: ["curves", "--model", "wrn-10-1", "--points", "100000000",
                                      "--out", str(t / "c")], "argument --points: must be an integer in [2, 10,000]"),
    ("worker-threads-negative", lambda t: ["worker", "--study", "bad", "--runs-dir", str(t), "--threads=-1"],
     "argument --threads: must be an integer >= 1, but got '-1'"),
    ("worker-threads-zero", lambda t: ["worker", "--study", "bad", "--runs-dir", str(t), "--threads=0"],
     "argument --threads: must be an integer >= 1, but got '0'"),
    ("worker-device-foo", lambda t: ["worker", "--study", "bad", "--device", "foo"],
     "argument --device: devices must be 'cpu' or distinct CUDA devices"),
    ("worker-two-devices", lambda t: ["worker", "--study", "bad", "--device", "cuda:0,cuda:1"],
     "argument --device: must be one device"),
    ("run-workers-zero", lambda t: ["run", study_file(t), "--workers", "0"],
     "argument --workers: must be an integer >= 1"),
    ("run-threads-zero", lambda t: ["run", study_file(t), "--threads", "0"],
     "argument --threads: must be an integer >= 1"),
    ("unknown-key-long", lambda t: ["run", study_file(t, STUDY + 'junk = "' + "j" * 500_000 + '"\n')],
     "characters)"),
    ("study-file-50MB", lambda t: ["run", study_file(t, STUDY + 'junk = "' + "j" * 50_000_000 + '"\n')],
     "larger than 1,000,000 bytes"),
    # accepted today although nothing can work: refused before anything is queued
    ("lr-inf", lambda t: ["run", study_file(t, STUDY + "lr = inf\n")], "training.lr = inf"),
    ("warmup-over-epochs", lambda t: ["run", study_file(t, STUDY + "warmup_epochs = 5\n")],
     "training.warmup_epochs must be at most epochs (1), but got 5.0"),
    ("weight-decay-inf", lambda t: ["run", study_file(t, STUDY + "weight_decay = inf\n")], "a finite number"),
    ("gamma-inf", lambda t: ["run", study_file(t, STUDY + "gamma = inf\n")], "a finite number"),
    ("beta-inf", lambda t: ["run", study_file(t, STUDY + "[distillation]\nteacher = 'train'\nbeta = inf\n")],
     "distillation.beta = inf"),
    ("temperature-inf", lambda t: ["run", study_file(t, STUDY + "[distillation]\nteacher = 'train'\n"
                                                        "temperature = inf\n")], "distillation.temperature = inf"),
    ("tuning-bound-inf", lambda t: ["run", study_file(t, STUDY + "[tuning]\ntrials = 2\nlr = {low = 0.01, high = "
                                                         "inf}\n")], "tuning.lr.high = inf"),
    ("missing-data-folder", lambda t: ["run", study_file(t, 'dataset = "cifar10:/no/such/folder"\n' + STUDY),
                                       "--runs-dir", str(t / "runs")], "does not exist"),
    ("missing-teacher", lambda t: ["run", study_file(t, STUDY + "[distillation]\nteacher = '/no/teacher.pt'\n"),
                                   "--runs-dir", str(t / "runs")], "no such checkpoint file"),
    pytest.param("devices-cuda-without-cuda", lambda t: ["run", study_file(t), "--devices", "cuda:0", "--runs-dir",
                                                         str(t / "runs")], "not available",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")),
    # the init axis: refused at load, or (the weights) when `run` resolves the study, before anything is queued
    ("init-unknown", lambda t: ["run", study_file(t, 'init = "pretrained"\n' + STUDY)],
     "init = 'pretrained' is not allowed"),
    ("projected-without-weights", lambda t: ["run", study_file(t, 'init = "projected"\n' + STUDY)],
     "weights is required with init = 'projected'"),
    ("projection-unknown", lambda t: ["run", study_file(t, 'init = "projected"\nweights = "w.pt"\n'
                                                        'projection = "svd"\n' + STUDY)], "projection = 'svd'"),
    ("weights-missing", lambda t: ["run", study_file(t, 'init = "projected"\nweights = "/no/dense.pt"\n' + STUDY),
                                   "--runs-dir", str(t / "runs")], "weights = '/no/dense.pt': no such file"),
    ("weights-of-another-model", lambda t: ["run", (torch.save({"x": torch.zeros(1)}, t / "w.pt"), study_file(
        t, f'init = "projected"\nweights = "{t / "w.pt"}"\n' + STUDY))[1], "--runs-dir", str(t / "runs")],
     "missing from the file"),
    ("projected-closed-without-closed-form", lambda t: ["run", (torch.save({"x": torch.zeros(1)}, t / "w.pt"), study_file(
        t, f'init = "projected"\nweights = "{t / "w.pt"}"\n' + STUDY.replace('["generic"]', '["generic", "acdc"]')))[1],
        "--runs-dir", str(t / "runs")], "acdc has no closed-form projection; projection 'fit' fits every family"),
    # settings of one optimizer given to another, or that no trial of the study could train with (issue 19)
    ("train-betas-with-sgd", lambda t: ["train", "--optimizer", "sgd", "--betas", "0.9,0.99", "--epochs", "1"],
     "TrainConfig.betas = (0.9, 0.99) is an option of optimizer 'adamw' only, but got optimizer='sgd'"),
    ("train-default-betas-with-sgd", lambda t: ["train", "--betas", "0.9,0.999", "--epochs", "1"],
     "--betas = (0.9, 0.999) is an option of optimizer 'adamw' only"),
    ("train-warmup-over-epochs", lambda t: ["train", "--epochs", "1", "--warmup-epochs", "2"],
     "warmup_epochs must be at most epochs (1), but got 2.0"),
    ("train-label-smoothing-with-teacher", lambda t: ["train", "--label-smoothing", "0.1", "--teacher", "t.pt"],
     "label_smoothing applies to plain training only, but got label_smoothing=0.1 with distill"),
    ("study-betas-with-sgd", lambda t: ["run", study_file(t, STUDY + "betas = [0.9, 0.99]\n")],
     "training.betas = (0.9, 0.99) is an option of optimizer 'adamw' only, but got optimizer='sgd'"),
    ("study-momentum-with-adamw", lambda t: ["run", study_file(t, STUDY + "optimizer = 'adamw'\nmomentum = 0.9\n")],
     "training.momentum = 0.9 is an option of optimizer 'sgd' only, but got optimizer='adamw'"),
    ("study-tuned-momentum-with-adamw", lambda t: ["run", study_file(t, STUDY + "optimizer = 'adamw'\n[tuning]\n"
                                                                     "trials = 2\nmomentum = {low = 0.8, high = 0.95}\n")],
     "with tuning.momentum.low = 0.8, training.momentum = 0.8 is an option of optimizer 'sgd' only"),
    ("study-label-smoothing-with-distillation", lambda t: ["run", study_file(t, STUDY + "label_smoothing = 0.1\n"
                                                                              "[distillation]\nteacher = 'train'\n")],
     "with distillation.teacher = 'train' (students are distilled), training.label_smoothing applies to plain"),
    ("study-warmup-over-teacher-epochs", lambda t: ["run", study_file(t, STUDY.replace("epochs = 1", "epochs = 3")
                                                                       + "warmup_epochs = 2\n[distillation]\n"
                                                                         "teacher = 'train'\nteacher_epochs = 1\n")],
     "in the teacher trial (its epochs: distillation.teacher_epochs, else training.epochs), "
     "training.warmup_epochs must be at most epochs (1), but got 2.0"),
    # layer choices that change nothing the user meant (issue 19)
    ("count-exclude-typo", lambda t: ["count", "--model", "wrn-10-1", "--exclude", "groups.0.0.conv"],
     "exclude pattern 'groups.0.0.conv' matches none of the 6 layers the default selection picks"),
    ("solve-exclude-everything", lambda t: ["solve", "--model", "wrn-10-1", "--budget", "0.5x", "--exclude", "*"],
     "nothing to substitute"),
    ("train-exclude-typo", lambda t: ["train", "--model", "wrn-10-1", "--exclude", "stem", "--epochs", "1"],
     "exclude pattern 'stem' matches none"),
    ("study-exclude-typo", lambda t: ["run", study_file(t, 'exclude = ["groups.0.0.conv"]\n' + STUDY)],
     "exclude pattern 'groups.0.0.conv' matches none"),
    ("study-selects-nothing", lambda t: ["run", study_file(t, 'select = "linear"\nexclude = ["fc"]\n' + STUDY)],
     "nothing to substitute"),
    # storage
    ("frontier-unknown-scheme", lambda t: ["frontier", "--storage", "foo://x", "--study", "s"], "cannot open storage"),
    ("frontier-unreachable-postgres", lambda t: ["frontier", "--storage", "postgresql://127.0.0.1:1/x", "--study",
                                                 "s"], "cannot open storage"),
    ("frontier-missing-database", lambda t: ["frontier", "--storage",
                                             "postgresql://postgres@127.0.0.1:5432/no_such_db_i14", "--study", "s"],
     "cannot open storage"),
    ("frontier-text-file-as-sqlite", lambda t: ["frontier", "--storage", f"sqlite:///{study_file(t)}", "--study",
                                                "s"], "cannot open storage"),
    ("frontier-sqlite-missing-folder", lambda t: ["frontier", "--storage", f"sqlite:///{t}/no/such/x.db", "--study",
                                                  "s"], "cannot open storage"),
    ("frontier-garbage-journal", lambda t: ["frontier", "--storage", study_file(t, "garbage\n", "j.log"), "--study",
                                            "s"], "line 1 is not an Optuna journal record"),
    ("frontier-binary-journal", lambda t: ["frontier", "--storage", bytes_file(t, os.urandom(4096), "j.bin"),
                                           "--study", "s"], "is not an Optuna journal record"),
    ("status-damaged-sqlite", lambda t: ["status", study_file(t), "--storage", sqlite_with_damage(t)], "storage"),
    ("run-damaged-sqlite", lambda t: ["run", study_file(t), "--storage", sqlite_with_damage(t)], "storage"),
    ("status-garbage-journal", lambda t: ["status", study_file(t), "--storage",
                                          study_file(t, '{"op_code":0}\ngarbage\n', "j.log")],
     "line 2 is not an Optuna journal record"),
    # outputs
    ("curves-out-a-file", lambda t: ["curves", "--model", "wrn-10-1", "--out", study_file(t)], "--out"),
    ("curves-out-impossible", lambda t: ["curves", "--model", "wrn-10-1", "--out", study_file(t) + "/sub"], "--out"),
    ("frontier-out-a-file", lambda t: ["frontier", "--storage", journal_of_a_study(t), "--study", "s", "--out",
                                       study_file(t)], "--out"),
    # checkpoints
    ("train-teacher-empty-file", lambda t: ["train", "--teacher", bytes_file(t, b"", "empty.pt"), "--epochs", "1"],
     "an empty file"),
    # model references that name no model, options the model does not take (issue 19); MARK: no command may run
    ("count-os-system", lambda t: ["count", "--model", "os:system", "--input-size", "3,8,8", "--model-option",
                                   f"command='touch {t / MARK}'"], "names the builtin function 'system'"),
    ("solve-builtins-eval", lambda t: ["solve", "--model", "builtins:eval", "--input-size", "3,8,8", "--budget",
                                       "0.5x"], "names the builtin function 'eval'"),
    ("train-subprocess-run", lambda t: ["train", "--model", "subprocess:run", "--epochs", "1"],
     "names the function 'run' (not marked as a model factory)"),
    ("curves-pathlib-path", lambda t: ["curves", "--model", "pathlib:Path", "--input-size", "3,8,8", "--out",
                                       str(t / "c")], "names the class 'Path' (not an nn.Module subclass)"),
    ("study-os-system", lambda t: ["run", study_file(t, f'model = "os:system"\n[model_options]\n'
                                                      f'command = "touch {t / MARK}"\n')],
     "names the builtin function 'system'"),
    ("count-unknown-option", lambda t: ["count", "--model", "wrn-10-1", "--model-option", "bogus=1"],
     "model 'wrn-10-1' takes no option 'bogus' (got bogus=1); accepted options: in_channels"),
    ("count-option-the-name-sets", lambda t: ["count", "--model", "wrn-16-4", "--model-option", "width=3"],
     "option 'width' is set by the model's name or by budgetsearch"),
    ("solve-ill-typed-option", lambda t: ["solve", "--model", "examples.tinyvgg:TinyVGG", "--input-size", "3,8,8",
                                          "--budget", "0.5x", "--model-option", "width='wide'"],
     "option 'width' must be int, but got 'wide' (str)"),
    ("study-unknown-option", lambda t: ["run", study_file(t, STUDY + "[model_options]\nbogus = 1\n")],
     "takes no option 'bogus'"),
    ("study-teacher-model-not-a-model", lambda t: ["run", study_file(t, STUDY + "[distillation]\nteacher = 'x.pt'\n"
                                                                     "teacher_model = 'not a model'\n")],
     "distillation.teacher_model = 'not a model' is not allowed"),
    ("train-crafted-teacher", lambda t: ["train", "--epochs", "1", "--teacher", crafted_checkpoint(t / "crafted.pt", t / MARK)],
     "records model 'os:system', which is not a registered model, and a checkpoint never chooses code to import"),
    ("train-teacher-named-otherwise", lambda t: ["train", "--epochs", "1", "--teacher", crafted_checkpoint(t / "crafted.pt", t / MARK),
                                                 "--teacher-model", "wrn-10-1"],
     "records model 'os:system', but 'wrn-10-1' was named for it"),
    ("train-teacher-model-without-teacher", lambda t: ["train", "--epochs", "1", "--teacher-model", "wrn-10-1"],
     "--teacher-model wrn-10-1 without --teacher"),
    # workers that would run what their user did not name (issue 19)
    ("worker-neither-file-nor-name", lambda t: ["worker"], "worker needs the study file"),
    ("worker-set-without-file", lambda t: ["worker", "--study", "s", "--set", "training.epochs=1"],
     "--set and --dataset change a study file's settings, but no study file was given"),
    ("worker-model-with-file", lambda t: ["worker", study_file(t), "--model", "os:system"],
     "--model and --model-option name what a study given by --study may build"),
    ("worker-other-name", lambda t: ["worker", study_file(t), "--study", "other"],
     "--study 'other' is not the study file's name 'bad'"),
]


def journal_of_a_study(tmp) -> str:
    """A journal holding an empty study ``s`` (frontier reaches its --out with no trials to read)."""
    import optuna

    from budgetsearch.study import open_storage

    path = tmp / "study.log"
    optuna.create_study(study_name="s", storage=open_storage(str(path), "s"))
    return str(path)


class Hang(Exception):
    pass


@pytest.fixture
def alarm():
    def ring(*_):
        raise Hang(f"no answer within {SECONDS} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("make_argv, expected", [pytest.param(*c.values[1:], id=c.values[0], marks=c.marks)
                                                 if hasattr(c, "values") else pytest.param(*c[1:], id=c[0])
                                                 for c in CASES])
def test_a_bad_input_is_one_line_and_a_non_zero_exit(tmp_path, monkeypatch, capsys, alarm, make_argv, expected):
    monkeypatch.chdir(tmp_path)
    argv = make_argv(tmp_path)
    try:
        status = cli.main(argv)
    except SystemExit as exit:  # an option argparse refused
        status = exit.code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert status == cli.EXIT_BAD_INPUT, captured.err[-2000:]
    assert len(lines) == 1 and lines[0].startswith(f"budgetsearch {argv[0]}: error: "), lines[:5]
    assert "Traceback" not in captured.err and len(lines[0]) < 1500, lines[0][:2000]
    assert expected in lines[0], lines[0]
    assert not (tmp_path / "runs").exists()  # a study refused before it is queued creates nothing
    assert not (tmp_path / MARK).exists()  # no command smuggled into a model reference or checkpoint ran
