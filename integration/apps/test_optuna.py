"""Optuna's RDB storage: two workers optimising one study, as ``optuna`` users run it."""

from __future__ import annotations

import optuna
from sqlalchemy.engine import URL


def objective(trial: optuna.Trial) -> float:
    return (trial.suggest_float("x", -10, 10) - 2) ** 2


def two_workers(url: URL) -> dict:
    """Two processes' storages, each with its own connection, taking turns."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url_text = url.render_as_string(hide_password=False)
    first = optuna.storages.RDBStorage(url_text)
    second = optuna.storages.RDBStorage(url_text)
    try:
        studies = [
            optuna.create_study(storage=first, study_name="tuning", sampler=optuna.samplers.RandomSampler(seed=1)),
            optuna.load_study(storage=second, study_name="tuning", sampler=optuna.samplers.RandomSampler(seed=2)),
        ]
        for turn in range(6):
            studies[turn % 2].optimize(objective, n_trials=1)
        reader = optuna.storages.RDBStorage(url_text)
        try:
            trials = optuna.load_study(storage=reader, study_name="tuning").trials
        finally:
            reader.engine.dispose()
        return {
            "numbers": [t.number for t in trials],
            "states": {t.state.name for t in trials},
            "params": sorted(round(t.params["x"], 9) for t in trials),
        }
    finally:
        first.engine.dispose()
        second.engine.dispose()


def test_one_worker_sees_its_trials(run_on):
    def one_worker(url: URL) -> dict:
        storage = optuna.storages.RDBStorage(url.render_as_string(hide_password=False))
        try:
            study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=3))
            study.optimize(objective, n_trials=5)
            study.set_user_attr("owner", "ada")
            return {
                "numbers": [t.number for t in study.trials],
                "best": study.best_trial.number,
                "best_value": round(study.best_value, 9),
                "attrs": study.user_attrs,
            }
        finally:
            storage.engine.dispose()

    assert run_on("auroradsql", one_worker) == run_on("postgresql", one_worker)


def test_two_workers_number_trials_without_gaps_or_duplicates(run_on):
    # Optuna numbers a trial by counting the study's trials with a smaller
    # id: ids out of insertion order give duplicate numbers and lose trials.
    expected = run_on("postgresql", two_workers)
    assert expected["numbers"] == [0, 1, 2, 3, 4, 5]
    assert run_on("auroradsql", two_workers) == expected
