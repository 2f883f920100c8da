"""The study loop: Optuna samples a point of the space, the Trainer trains it as a run.

Each trial is a record of kind "trial" in the run store (its extra names the study, trial
number and params). Per-epoch validation metrics from the Trainer's events feed the
pruner; a pruned trial's trainer is stopped before its next batch. A trial whose graph
does not analyse is recorded as a failed run and marked FAIL in the study with the
BuilderError's message (user attribute "infeasible"); the search goes on.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Any

from builder.errors import BuilderError
from builder.search.apply import apply_trial
from builder.search.space import SearchSpace, space_of
from builder.search.storage import open_storage

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
POLL_S = 0.05


class InfeasibleTrial(Exception):
    """A trial's graph or settings cannot be built; its study trial is marked FAIL."""


@dataclass
class SearchSettings:
    """How one worker searches: which study, how many trials, which sampler and pruner."""

    study: str = "search"
    storage: str | None = None  # None: SQLite under $LAYERCRAFT_HOME
    n_trials: int | None = 20
    timeout: float | None = None
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int | None = 0
    home: str | None = None  # run store and default storage home; None: $LAYERCRAFT_HOME
    project: str | None = None

    def validate(self) -> None:
        if self.sampler not in SAMPLERS:
            raise BuilderError(
                f"unknown sampler {self.sampler!r}",
                field="sampler",
                hint=f"Use one of: {', '.join(SAMPLERS)}.",
            )
        if self.pruner not in PRUNERS:
            raise BuilderError(
                f"unknown pruner {self.pruner!r}",
                field="pruner",
                hint=f"Use one of: {', '.join(PRUNERS)}.",
            )
        if self.n_trials is not None and not 1 <= self.n_trials <= 100_000:
            raise BuilderError("n_trials must be between 1 and 100000", field="n_trials")
        if self.timeout is not None and not self.timeout > 0:
            raise BuilderError("timeout must be a positive number of seconds", field="timeout")
        if not isinstance(self.study, str) or not 1 <= len(self.study) <= 200:
            raise BuilderError("the study needs a name of 1 to 200 characters", field="study")


@dataclass
class Search:
    """A prepared search: the checked space, the storage-backed study and the trial runner."""

    arch: Any
    dataset: Any
    config: Any
    settings: SearchSettings
    space: SearchSpace
    metric: str
    study: Any
    store: Any
    on_trial: Any = None  # called with each finished FrozenTrial (the app's live table)
    _stop: threading.Event = field(default_factory=threading.Event)
    _trainer: Any = None

    @property
    def direction(self) -> str:
        return "maximize" if self.metric == "val_accuracy" else "minimize"

    def optimize(self) -> dict[str, Any]:
        """Run this worker's trials; returns the summary (see summarise)."""
        callbacks = [self._after_trial]
        self.study.optimize(
            self._objective,
            n_trials=self.settings.n_trials,
            timeout=self.settings.timeout,
            catch=(InfeasibleTrial,),
            callbacks=callbacks,
        )
        return summarise(self.study)

    def stop(self) -> None:
        """End the search after the running trial (which is stopped too)."""
        self._stop.set()  # the after-trial callback stops the study (Optuna wants it there)
        if self._trainer is not None:
            self._trainer.stop()

    # ---- one trial ------------------------------------------------------------------------

    def _objective(self, trial) -> float:
        import optuna

        params = self.space.suggest(trial)
        trial_arch, trial_config = self._build(trial, params)
        trainer = self._trainer_for(trial, trial_arch, trial_config, params)
        pruned_at = self._train_reporting(trainer, trial)
        trial.set_user_attr("run_id", trainer.run_id)
        if pruned_at is not None:
            self._note(trainer.run_id, f"pruned by the study at epoch {pruned_at}")
            raise optuna.TrialPruned(f"pruned at epoch {pruned_at}")
        if trainer.state == "stopped" and self._stop.is_set():
            trial.set_user_attr("note", "stopped by the user")
            raise InfeasibleTrial("stopped by the user")
        if trainer.state != "finished":
            message = trainer.message or f"training ended as {trainer.state}"
            trial.set_user_attr("infeasible", message)
            raise InfeasibleTrial(message)
        value = trainer.summary().get(self.metric)
        if value is None or not math.isfinite(value):
            raise InfeasibleTrial(f"the trial produced no {self.metric}")
        return float(value)

    def _build(self, trial, params: dict[str, Any]):
        from builder.shapes import analyse

        try:
            trial_arch, trial_config = apply_trial(self.arch, self.config, params, self.space)
            analysis = analyse(trial_arch)
            if not analysis.ok:
                raise analysis.errors[0]
            return trial_arch, trial_config
        except BuilderError as err:
            message = f"infeasible: {err}"
            trial.set_user_attr("infeasible", message)
            self._record_infeasible(trial, params, message)
            raise InfeasibleTrial(message) from None

    def _trainer_for(self, trial, arch, config, params):
        from builder.training import Trainer

        extra = {"study": self.study.study_name, "trial": trial.number, "params": params}
        try:
            trainer = Trainer(
                arch,
                self.dataset,
                config,
                store=self.store,
                project=self.settings.project,
                run_kind="trial",
                extra=extra,
            )
        except BuilderError as err:
            message = f"infeasible: {err}"
            trial.set_user_attr("infeasible", message)
            self._record_infeasible(trial, params, message)
            raise InfeasibleTrial(message) from None
        self._trainer = trainer
        return trainer

    def _train_reporting(self, trainer, trial) -> int | None:
        """Train in the trainer's thread; report each val epoch; the epoch pruned at, or None."""
        import optuna

        if self._stop.is_set():
            trainer.stop()
        trainer.start()
        cursor, pruned_at = 0, None
        # With no pruner the epoch values would only cost storage writes (one commit each).
        reporting = not isinstance(self.study.pruner, optuna.pruners.NopPruner)
        while True:
            done = trainer.join(POLL_S)
            events, cursor = trainer.events_since(cursor)
            for event in events:
                value = _epoch_value(event, self.metric)
                if value is None or pruned_at is not None or not reporting:
                    continue
                trial.report(value, event["epoch"])
                if trial.should_prune():
                    pruned_at = event["epoch"]
                    trainer.stop()
            if done:
                return pruned_at

    def _record_infeasible(self, trial, params, message: str) -> None:
        """An infeasible trial is still a run: failed, with the message and its graph."""
        extra = {"study": self.study.study_name, "trial": trial.number, "params": params}
        run_id = self.store.create(
            kind="trial",
            project=self.settings.project,
            graph=self.arch.to_json(),
            config=self.config.to_dict(),
            dataset=getattr(self.dataset, "name", None),
            note=message,
            extra=extra,
        )
        self.store.finish(run_id, status="failed", summary={"state": "failed", "message": message})
        trial.set_user_attr("run_id", run_id)

    def _note(self, run_id: str, text: str) -> None:
        with contextlib.suppress(BuilderError):
            self.store.set_note(run_id, text)

    def _after_trial(self, study, frozen) -> None:
        if self.on_trial is not None:
            self.on_trial(frozen)
        if self._stop.is_set():
            study.stop()


def prepare_search(arch, dataset, config, settings: SearchSettings, store=None) -> Search:
    """Check everything, then open (or join) the study; nothing is written before the checks pass."""
    import optuna

    from builder.runs import RunStore

    settings.validate()
    optuna.logging.set_verbosity(logging.WARNING)
    space = space_of(arch)
    if not space:
        raise BuilderError(
            "the graph has no search section, so there is nothing to search",
            field="search",
            hint="Mark a parameter as searched in the inspector, or add a search section.",
        )
    config.validate()
    from builder.data import check_compatibility

    problem = check_compatibility(arch, dataset)
    if problem is not None:
        raise problem
    metric = space.metric or ("val_accuracy" if dataset.task == "classification" else "val_loss")
    if metric == "val_accuracy" and dataset.task != "classification":
        raise BuilderError(
            f"val_accuracy needs a classification dataset, not {dataset.task}",
            field="search.metric",
            hint='Use "metric": "val_loss".',
        )
    sampler = make_sampler(settings.sampler, space, settings.seed)
    pruner = make_pruner(settings.pruner, config.epochs)
    storage = open_storage(settings.storage, settings.home)
    direction = "maximize" if metric == "val_accuracy" else "minimize"
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=settings.study,
            sampler=sampler,
            pruner=pruner,
            direction=direction,
            load_if_exists=True,
        )
    except ValueError as err:  # an existing study with the other direction
        raise BuilderError(str(err), field="study", hint="Pick a new study name.") from None
    store = store if store is not None else RunStore(settings.home)
    return Search(arch, dataset, config, settings, space, metric, study, store)


def make_sampler(name: str, space: SearchSpace, seed: int | None):
    """TPE (default), random, or a grid over the space's choices and stepped ranges."""
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(name: str, epochs: int):
    """Median (after 5 complete trials, from epoch 1), Hyperband over epochs, or none."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(1, epochs))
    return optuna.pruners.NopPruner()


def summarise(study) -> dict[str, Any]:
    """The search's JSON line: best value / params / trial / run, trial counts, study name."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    out: dict[str, Any] = {
        "study": study.study_name,
        "direction": study.direction.name.lower(),
        "best_value": None,
        "best_params": {},
        "best_trial": None,
        "best_run": None,
        "n_trials": sum(t.state.is_finished() for t in trials),
        "n_complete": len(complete),
        "n_pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "n_failed": sum(t.state == TrialState.FAIL for t in trials),
    }
    if complete:
        best = study.best_trial
        out.update(
            best_value=best.value,
            best_params=best.params,
            best_trial=best.number,
            best_run=best.user_attrs.get("run_id"),
        )
    return out


def trials_table(study) -> list[dict[str, Any]]:
    """One row per trial: number, state, value, params, run id, seconds, and why it failed."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        duration = t.duration.total_seconds() if t.duration is not None else None
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name.lower(),
                "value": t.value,
                "epochs": max(t.intermediate_values, default=None),
                **{f"{k}": v for k, v in t.params.items()},
                "seconds": None if duration is None else round(duration, 2),
                "run": t.user_attrs.get("run_id"),
                "note": t.user_attrs.get("infeasible") or t.user_attrs.get("note", ""),
            }
        )
    return rows


def _epoch_value(event: dict[str, Any], metric: str) -> float | None:
    if event.get("kind") != "epoch" or event.get("split") != "val":
        return None
    key = "accuracy" if metric == "val_accuracy" else "loss"
    value = event.get(key)
    return float(value) if value is not None and math.isfinite(value) else None
