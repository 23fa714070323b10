"""Every command line the README and the study files' comments show, run as a reader would run it.

The commands are parsed out of the files, so a command is tested the day it is documented: in README.md the
indented lines that start with ``budgetsearch`` or ``pip`` (a line ending in ``\\`` continues on the next), in
``studies/*.toml`` the comment lines that start with either. Each runs in-process through
``cli.main`` in a fresh folder, and must exit 0 (a `&&` chain stops at anything else) and print every figure
the text states beside it: a count like ``36,479,194`` or a decimal like ``0.481`` in its ``# comment``.

Commands that act on one study (``run``, ``status``, ``frontier`` of a study file, ``worker`` of its study)
run together, README first and then the study file's own, in one folder and one database, as a reader who
types them in order would: a later ``run`` continues the study the first one trained. Every other command in
a study file's comments (``train --save`` of the weights it projects) runs in that session too, in its place. Each prints the figures
the study file's opening comment states: ``N trials`` recorded, and exactly the cells it names as skipped,
written ``SUBSTITUTE at BUDGET (fill F)``.

Placeholders and long runs are mapped, and only as MAPPINGS says. ``pip`` and ``python -m pytest`` lines are
not run: they are checked against setup.cfg and .ci/run.
"""

from __future__ import annotations

import configparser
import json
import pickle
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest

from budgetsearch import cli

REPO = Path(__file__).resolve().parents[1]
STUDY_FILES = sorted((REPO / "studies").glob("*.toml"))
POSTGRES_STUDY = "wrn-28-10-cifar10"  # what the README's `worker --study NAME` joins: its file shows such workers
TINY_CIFAR_IMAGES = 32  # per file of the subset: 160 training images, an epoch of wrn-16-2 with acdc in seconds


# --- the documented lines -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    where: str  # file:line
    argv: tuple  # every word as written, the program (`budgetsearch`, `pip`, `python`) first
    comment: str  # what the text says beside it

    @property
    def is_budgetsearch(self) -> bool:
        return self.argv[0] == "budgetsearch"


def _logical_lines(lines):
    """(line number, text) with a trailing ``\\`` joined to the next line."""
    start, parts = None, []
    for number, line in enumerate(lines, 1):
        start = start or number
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1])
            continue
        first, *rest = [*parts, line]
        yield start, " ".join([first.rstrip(), *(part.strip() for part in rest)])
        start, parts = None, []


def _commands(where: str, number: int, text: str) -> list:
    """One Command per part of a ``&&`` chain, each with the line's comment."""
    code, _, comment = text.partition(" #")
    return [Command(f"{where}:{number}", tuple(shlex.split(part)), comment.strip()) for part in code.split("&&")]


def readme_commands() -> list:
    lines = (REPO / "README.md").read_text().splitlines()
    found = []
    for number, text in _logical_lines(lines):
        if re.match(r" {4}(budgetsearch|pip) ", text):
            found += _commands("README.md", number, text.strip())
    return found


def study_file_commands(path: Path) -> list:
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = re.match(r"#\s+((?:budgetsearch|pip) .*)", line)
        if match:
            found += _commands(f"studies/{path.name}", number, match.group(1))
    return found


DOCUMENTED = readme_commands() + [c for path in STUDY_FILES for c in study_file_commands(path)]


def test_the_documents_show_commands():
    # The parser finding nothing would make every test below pass vacuously.
    assert len([c for c in DOCUMENTED if c.where.startswith("README.md")]) >= 15
    assert {c.where.split(":")[0] for c in DOCUMENTED} >= {f"studies/{p.name}" for p in STUDY_FILES}


# --- pip and pytest lines: checked against setup.cfg and .ci/run, not run -------------------------------------

def _ci_commands() -> list:
    return [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _setup_extras() -> set:
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    return set(setup["options.extras_require"])


INSTALL_LINES = sorted({c.where for c in DOCUMENTED if not c.is_budgetsearch})


@pytest.mark.parametrize("where", INSTALL_LINES)
def test_install_line_agrees_with_setup_cfg_and_ci(where):
    chain = [c for c in DOCUMENTED if c.where == where]
    ci = _ci_commands()
    ci_torch = next(words[2] for words in map(shlex.split, ci) if words[:2] == ["pip", "install"]
                    and words[2].startswith("torch"))
    for command in (c for c in chain if not c.is_budgetsearch):
        words = list(command.argv)
        if words[:2] == ["pip", "install"] and words[2].startswith("torch"):
            assert words[2] == ci_torch, f"{where}: the README pins {words[2]}, CI installs {ci_torch}"
        elif words[:3] == ["pip", "install", "-e"]:
            extras = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", words[3])
            assert extras, f"{where}: {words[3]!r} is not the project folder with extras"
            missing = set((extras.group(1) or "").split(",")) - {""} - _setup_extras()
            assert not missing, f"{where}: extras {sorted(missing)} are not in setup.cfg's extras_require"
        elif words == ["python", "-m", "pytest"]:
            # The README's test command is the one CI runs, after the same installs.
            written = [shlex.join(c.argv) for c in chain]
            positions = [ci.index(line) if line in ci else -1 for line in written]
            assert -1 not in positions and positions == sorted(positions), \
                f"{where}: {written} are not, in this order, commands of .ci/run: {ci}"
        else:
            pytest.fail(f"{where}: no check for {shlex.join(words)!r}; add one here")


# --- what a documented command runs as here ------------------------------------------------------------------

@dataclass(frozen=True)
class Mapping:
    documented: str  # what the text has
    runs_as: str  # what the test runs (or expects) instead
    why: str
    apply: Callable  # (argv list, Here) -> argv list


class Here:
    """One folder, one database and one set of study copies, shared by the commands of a session."""

    def __init__(self, request, folder: Path):
        self.request, self.folder = request, folder
        self.expected_status, self.expected_text = 0, None
        self._tiny_cifar: Optional[Path] = None
        self._database: Optional[str] = None
        self._copies: dict = {}

    def expect(self, status: int, text: str) -> None:
        self.expected_status, self.expected_text = status, text

    def tiny_cifar(self) -> str:
        if self._tiny_cifar is None:
            self._tiny_cifar = _tiny_cifar_copy(self.request.getfixturevalue("cifar_mini"), self.folder / "cifar-tiny")
        return str(self._tiny_cifar)

    def database(self) -> str:
        if self._database is None:
            self._database = self.request.getfixturevalue("postgres_database")
        return self._database

    def study_copy(self, documented: str) -> Path:
        if documented not in self._copies:
            data = tomllib.loads((REPO / documented).read_text())
            _shrink(data, self)
            path = self.folder / "studies" / Path(documented).name
            path.parent.mkdir(exist_ok=True)
            path.write_text(_toml(data))
            self._copies[documented] = path
        return self._copies[documented]


# A study's trials take minutes to hours; each trains one epoch here. A CIFAR data set becomes the copy PATH
# maps to. wrn-28-10-cifar10 trains WRN-28-10 with a teacher: one epoch of teacher and one student on 320
# images took 8.5 minutes here, so it also becomes wrn-10-1 with its first substitute at 0.1x (and no
# figures are stated for it).
HEAVY_STUDIES = {"wrn-28-10-cifar10": {"model": "wrn-10-1", "budgets": ["0.1x"]}}


def _shrink(data: dict, here: Here) -> None:
    data.setdefault("training", {})["epochs"] = 1
    if data.get("distillation", {}).get("teacher") == "train":
        data["distillation"]["teacher_epochs"] = 1
    if data.get("dataset", "digits").startswith("cifar10:"):
        data["dataset"] = f"cifar10:{here.tiny_cifar()}"
    if data["name"] in HEAVY_STUDIES:
        data.update(HEAVY_STUDIES[data["name"]], substitutes=data["substitutes"][:1])


def _replace_word(argv: list, old: Callable, new: Callable) -> list:
    return [new(word) if old(word) else word for word in argv]


def _after(argv: list, option: str) -> Optional[str]:
    return argv[argv.index(option) + 1] if option in argv else None


def _map_data(argv, here):
    return _replace_word(argv, lambda w: w.endswith(":PATH"), lambda w: w.replace("PATH", here.tiny_cifar()))


def _map_storage(argv, here):
    return _replace_word(argv, lambda w: w.startswith("postgresql://"), lambda w: here.database())


def _map_study_name(argv, here):
    return _replace_word(argv, lambda w: w == "NAME", lambda w: POSTGRES_STUDY)


def _map_study_file(argv, here):
    return _replace_word(argv, lambda w: w.startswith("studies/") and w.endswith(".toml"),
                         lambda w: str(here.study_copy(w)))


def _queue_study_for_worker(argv, here):
    if argv[0] == "worker":
        name = _after(argv, "--study") if "--study" in argv else _study_name(Path(argv[1]))
        _ensure_queued(name, _after(argv, "--storage"), here)
    return argv


def _fewer_points(argv, here):
    return [*argv, "--points", "2"] if argv[0] == "curves" and "--points" not in argv else argv


def _one_epoch(argv, here):
    if argv[0] != "train" or "--epochs" not in argv:
        return argv
    at = argv.index("--epochs") + 1
    return [*argv[:at], "1", *argv[at + 1:]]


def _absent_slurm_refused(argv, here):
    import shutil

    if argv[0] == "submit" and "--slurm" in argv and "--dry-run" not in argv and shutil.which("srun") is None:
        here.expect(2, "cannot submit to Slurm from this machine")
    return argv


def _absent_cuda_refused(argv, here):
    devices = _after(argv, "--devices") or ""
    if argv[0] == "run" and "cuda:" in devices:
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        missing = [d for d in devices.split(",") if int(d.partition(":")[2]) >= count]
        if missing:
            here.expect(2, f"{', '.join(missing)} not available")
    return argv


MAPPINGS = (
    Mapping("PATH in cifar10:PATH",
            f"a CIFAR-10 copy of the first {TINY_CIFAR_IMAGES} images of each file of the subset "
            "(tests/conftest.py's cifar_mini)", "a placeholder; an epoch of the subset's 5,170 takes minutes",
            _map_data),
    Mapping("postgresql://HOST/DB, postgresql://user@host/db",
            "a fresh database on the local server (tests/conftest.py's postgres_database), the same for every URL "
            "of a session (skipped without a server, "
            "unless BUDGETSEARCH_REQUIRE_POSTGRES=1)", "placeholders", _map_storage),
    Mapping("--study NAME", f"--study {POSTGRES_STUDY}, the study whose file shows PostgreSQL workers",
            "a placeholder", _map_study_name),
    Mapping("studies/NAME.toml", "a copy trained one epoch on the data PATH maps to (HEAVY_STUDIES: also smaller)",
            "a study's trials take minutes to hours", _map_study_file),
    Mapping("worker (STUDY.toml or --study S) of a study not yet in its storage",
            "the study queued there first (prepare_study, untrained)",
            "a worker joins a study that `run` started; this one's `run` comes later or elsewhere",
            _queue_study_for_worker),
    Mapping("curves", "curves --points 2", "40 settings of 13 substitutes on wrn-28-10 take minutes", _fewer_points),
    Mapping("train --epochs N", "train --epochs 1", "an epoch shows the trial runs; more only take longer",
            _one_epoch),
    Mapping("run --devices cuda:N,... with a device this machine lacks",
            "the refusal the README documents: exit status 2 naming the missing devices", "no GPU here",
            _absent_cuda_refused),
    Mapping("submit --slurm (not --dry-run) on a machine without Slurm",
            "the refusal: exit status 2 saying this machine cannot submit to Slurm", "no Slurm here",
            _absent_slurm_refused),
)


def _ensure_queued(study_name: str, storage: Optional[str], here: Here) -> None:
    import optuna

    from budgetsearch.study import load_study_config, open_storage, prepare_study

    try:
        optuna.load_study(study_name=study_name, storage=open_storage(storage, study_name))
    except KeyError:
        documented = next(f"studies/{p.name}" for p in STUDY_FILES if _study_name(p) == study_name)
        prepare_study(load_study_config(here.study_copy(documented)), storage)


def _tiny_cifar_copy(source: Path, target: Path) -> Path:
    target.mkdir()
    for file in source.iterdir():
        with open(file, "rb") as stream:
            content = pickle.load(stream, encoding="bytes")  # the project's own test data
        for key in (b"data", b"labels"):
            if key in content:
                content[key] = content[key][:TINY_CIFAR_IMAGES]
        with open(target / file.name, "wb") as stream:
            pickle.dump(content, stream)
    return target


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {_toml_value(v)}" for key, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml_value, value)) + "]"
    return json.dumps(value)  # a string, an int or a finite float is written alike in TOML and JSON


def _toml(data: dict) -> str:
    lines = [f"{key} = {_toml_value(value)}" for key, value in data.items() if not isinstance(value, dict)]
    for table, entries in ((k, v) for k, v in data.items() if isinstance(v, dict)):
        lines += [f"[{table}]", *(f"{key} = {_toml_value(value)}" for key, value in entries.items())]
    return "\n".join(lines) + "\n"


# --- sessions: the commands that act on one study run together -------------------------------------------------

def _study_name(path: Path) -> str:
    return tomllib.loads(path.read_text())["name"]


def _study_of(command: Command) -> Optional[Path]:
    argv = list(command.argv[1:])
    if argv[0] in ("run", "status", "frontier") and len(argv) > 1 and argv[1].endswith(".toml"):
        return REPO / argv[1]
    if argv[0] == "worker" and "--study" in argv:
        name = _map_study_name(argv, None)[argv.index("--study") + 1]
        return next(p for p in STUDY_FILES if _study_name(p) == name)
    if argv[0] == "worker":
        return REPO / argv[1]
    return None


def sessions() -> dict:
    grouped, chains = {}, {}
    for command in (c for c in DOCUMENTED if c.is_budgetsearch):
        # A study file's other commands (training the weights it projects) prepare its own session.
        in_study_file = REPO / command.where.partition(":")[0] if command.where.startswith("studies/") else None
        study = _study_of(command) or in_study_file
        # A `&&` chain (one line) runs in one folder: a later part reads what an earlier one wrote.
        key = f"studies/{study.name}" if study else \
            chains.setdefault(command.where, f"{command.where} {shlex.join(command.argv[1:])[:60]}")
        grouped.setdefault(key, []).append(command)
    return grouped


SESSIONS = sessions()


@pytest.fixture
def torch_threads_kept():
    """A worker run in-process sets torch's thread count (``--threads``); later tests get theirs back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _run(argv: list, capsys) -> tuple:
    try:
        status = cli.main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _stated_figures(comment: str) -> list:
    """Counts written with thousands separators and decimals: what a comment promises the output shows."""
    return re.findall(r"\d{1,3}(?:,\d{3})+|\d+\.\d+", comment)


def _shows(output: str, figure: str) -> bool:
    return re.search(rf"(?<![\d.,]){re.escape(figure)}(?![\d,]|\.\d)", output) is not None


@dataclass(frozen=True)
class StudyFigures:
    trials: Optional[int]
    skipped: frozenset  # (substitute, budget, fill)


def study_figures(path: Path) -> StudyFigures:
    """What a study file's opening comment states its run gives."""
    opening = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        opening.append(line[1:])
    text = " ".join(" ".join(opening).split())  # one line, one space between words
    trials = re.search(r"\b(\d+) trials\b", text)
    return StudyFigures(int(trials.group(1)) if trials else None,
                        frozenset(re.findall(r"([\w-]+) at ([\d.]+x) \(fill ([\d.]+)\)", text)))


def _check_study_figures(argv: list, output: str, figures: StudyFigures, where: str) -> None:
    if argv[0] in ("run", "status"):
        shown = set(re.findall(r"^skipped (\S+) at (\S+): .*\(fill ([\d.]+),", output, re.MULTILINE))
        assert shown == set(figures.skipped), f"{where}: skipped cells {sorted(shown)}, the file says " \
                                              f"{sorted(figures.skipped)}"
        if figures.trials is not None:
            assert f"{figures.trials}/{figures.trials} trials recorded" in output, \
                f"{where}: the file says {figures.trials} trials; {output[-300:]}"
    elif argv[0] == "frontier" and figures.trials is not None and "--json" not in argv:
        assert re.search(rf"^{figures.trials} trials,", output, re.MULTILINE), \
            f"{where}: the file says {figures.trials} trials; {output[-300:]}"


@pytest.mark.parametrize("session", list(SESSIONS), ids=list(SESSIONS))
def test_documented_commands_do_what_the_text_says(session, request, tmp_path, monkeypatch, capsys,
                                                   torch_threads_kept):
    monkeypatch.chdir(tmp_path)  # runs/, curves/ and every relative output land in the test's folder
    here = Here(request, tmp_path)
    for command in SESSIONS[session]:
        here.expect(0, None)
        argv, mapped = list(command.argv[1:]), []
        for mapping in MAPPINGS:
            before, argv = argv, mapping.apply(argv, here)
            if argv != before:
                mapped.append(f"{mapping.documented} -> {mapping.runs_as} ({mapping.why})")
        status, out, err = _run(argv, capsys)
        shown = f"{command.where} ran as {shlex.join(argv)} ({'; '.join(mapped) or 'as written'}):\n" \
                f"{out[-2000:]}\n{err[-2000:]}"
        assert status == here.expected_status, shown
        if here.expected_text is not None:
            assert here.expected_text in err, shown
            continue
        for figure in _stated_figures(command.comment):
            assert _shows(out, figure), f"{command.where} states {figure}, not in the output; {shown}"
        study = _study_of(command)
        if study is not None:
            _check_study_figures(argv, out, study_figures(study), command.where)
