"""Datasets: embedded sets, file loaders, and the check that a dataset fits a graph."""

from .compat import check_compatibility, suggest_fix
from .dataset import TASKS, Dataset, format_shape, split_and_standardise
from .embedded import DATASETS, dataset_help, load_dataset
from .files import MAX_FILE_BYTES, load_file
from .text import SEQUENCE_LENGTH, VOCAB_SIZE

__all__ = [
    "DATASETS",
    "MAX_FILE_BYTES",
    "SEQUENCE_LENGTH",
    "TASKS",
    "VOCAB_SIZE",
    "Dataset",
    "check_compatibility",
    "dataset_help",
    "format_shape",
    "load_dataset",
    "load_file",
    "split_and_standardise",
    "suggest_fix",
]
