"""Resume an interrupted run from its last epoch checkpoint, in the same record."""

from __future__ import annotations

from builder.errors import BuilderError


def dataset_of(rec):
    """Rebuild the dataset a run trained on from its record (embedded name or file path)."""
    from builder.data import load_dataset, load_file

    seed = int(rec.config.get("seed", 0) or 0)
    val_fraction = rec.extra.get("val_fraction", 0.2)
    options = dict(rec.extra.get("dataset_options") or {})
    if rec.extra.get("data_path"):
        return load_file(
            rec.extra["data_path"], task=options.get("task"), seed=seed, val_fraction=val_fraction
        )
    if not rec.dataset:
        raise BuilderError(f"run {rec.id} does not say what data it used", field="run")
    return load_dataset(rec.dataset, seed=seed, val_fraction=val_fraction, **options)


def resume_trainer(store, run_id: str, **trainer_options):
    """A Trainer that goes on with run_id from its checkpoint (start() or run() it)."""
    from builder.graph import Architecture
    from builder.training import TrainConfig, Trainer

    rec = store.get(run_id)
    if rec.status != "interrupted":
        raise BuilderError(
            f"run {run_id} is {rec.status}; only an interrupted run can be resumed", field="run"
        )
    checkpoint = store.load_checkpoint(run_id)
    if checkpoint is None or not rec.graph or rec.kind != "train":
        raise BuilderError(
            f"run {run_id} left no epoch checkpoint to resume from",
            field="run",
            hint="Start a new run (it may have been interrupted during its first epoch).",
        )
    trainer = Trainer(
        Architecture.from_json(rec.graph),
        dataset_of(rec),
        TrainConfig.from_dict(rec.config),
        run_id=run_id,
        store=store,
        project=rec.project,
        **trainer_options,
    )
    trainer.resume_from = checkpoint
    return trainer
