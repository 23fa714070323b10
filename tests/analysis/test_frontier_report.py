"""report.md: a table per budget with status counts, the fronts, and every trial that did not finish."""

import optuna
from scipy import stats

from budgetsearch.analysis import aggregate_seeds, frontier_table, load_trials, render_report

from synthetic_study import attributes, build_study, frozen


def _report(study):
    trials = load_trials(study)
    return render_report(trials, frontier_table(aggregate_seeds(trials)), title="synthetic")


def _t_interval(mean, std, n):
    half = stats.t.ppf(0.975, n - 1) * std / n ** 0.5
    return f"[{mean - half:.2f}, {mean + half:.2f}]"


def _section(report, heading):
    start = report.index(heading)
    end = report.find("\n## ", start + 1)
    return report[start:end if end >= 0 else None]


def test_budget_tables_in_size_order_with_errors_and_status_counts(study):
    report = _report(study)
    assert report.index("## Budget 0.1M (at most 100,000 parameters)") < report.index("## Budget 0.2M")
    small = _section(report, "## Budget 0.1M")
    # acdc 0.1M: seeds 10, 10, 13; the interval mean ± t(0.975, 2)·s/√3 with s = √3
    acdc = _t_interval(11.0, 3 ** 0.5, 3)
    assert f"| acdc | 8 | 99,000 | 0.990 | 20,000,000 | 5,000,000 | 11.00 ± 1.73 | {acdc} | 3 |  | 3 complete |" in small
    large = _section(report, "## Budget 0.2M")
    shuffle = _t_interval(9.25, 0.125 ** 0.5, 2)  # seeds 9, 9.5
    assert f"| shuffle | 2 | 150,000 | 0.750 | 18,000,000 | 0 | 9.25 ± 0.35 | {shuffle} | 2 | M | 2 complete, 1 failed |" \
        in large
    tucker = _t_interval(6.5, 0.5, 3)
    assert f"| tucker | 0.4 | 190,000 | 0.950 | 55,000,000 | 300,000 | 6.50 ± 0.50 | {tucker} | 3 | PM " \
           "| 3 complete, 1 pruned |" in large
    assert "| wrn-16-2 | conv | 700,000 | 100,000,000 | 4.50 ± 0.71 | 2 |" in _section(report, "## Teacher")
    assert "(4 points)" in report and "(5 points)" in report  # the two fronts


def test_failed_and_pruned_trials_are_listed_on_one_line_each(study):
    problems = _section(_report(study), "## Failed or incomplete trials (2)")
    assert "| 17 | student | shuffle | 0.2M | 2 | failed | FAIL | 1 | failed | " \
           "RuntimeError: worker lost second line \\| with a pipe |" in problems
    assert "| 18 | student | tucker | 0.2M | 3 | pruned | PRUNED | 1 | pruned | pruned at epoch 1 |" in problems


def test_a_point_whose_every_seed_crashed_still_has_a_row():
    study = build_study(None)
    for seed in range(2):  # a whole substitute failing must not vanish from the tables
        study.add_trial(frozen(attributes(substitute="hashed", setting=0.1, params=90_000, seed=seed,
                                          status="failed", val_error=None, message="segfault")))
    report = _report(study)
    assert "| hashed | 0.1 | 90,000 | 0.900 | 30,000,000 | - | - | - | 0 |  | 2 failed |" in _section(report, "## Budget 0.1M")
    assert "## Failed or incomplete trials (4)" in report


def test_a_clean_study_says_so():
    study = optuna.create_study()
    study.add_trial(frozen(attributes()))
    report = _report(study)
    assert "1 trial: 1 complete." in report
    assert "None: every trial has status complete and ran all its planned epochs." in report


def test_queued_trials_are_summarised_in_one_line():
    study = build_study(None)
    queued = attributes(substitute="tucker", budget="0.2M", budget_params=200_000, seed=4, status=None,
                        val_error=None, epochs_run=None)
    for _ in range(3):
        study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.WAITING, user_attrs=queued))
    report = _report(study)
    problems = _section(report, "## Failed or incomplete trials (5)")
    assert "3 trial(s) waiting in the queue (not started) are not listed one by one." in problems
    assert problems.count("| student |") == 2  # the failed and the pruned trial
    assert "3 complete, 1 pruned, 3 waiting |" in _section(report, "## Budget 0.2M")
    assert "24 trials: 19 complete, 1 pruned, 1 failed, 3 waiting." in report


def test_settings_are_shown_whole():
    study = optuna.create_study()
    study.add_trial(frozen(attributes(setting=0.1015625)))
    assert "| tucker | 0.1015625 | 96,000 |" in _report(study)
