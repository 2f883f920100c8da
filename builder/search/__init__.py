"""AutoML: a graph's search space, trials built from it, and Optuna studies that train them.

from builder.search import apply_trial, prepare_search, SearchSettings, searched_nodes
"""

from builder.search.apply import apply_trial, skip_node
from builder.search.space import Dim, SearchSpace, parse_space, searched_nodes, space_of
from builder.search.study import (
    PRUNERS,
    SAMPLERS,
    InfeasibleTrial,
    Search,
    SearchSettings,
    prepare_search,
    summarise,
    trials_table,
)

__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "Dim",
    "InfeasibleTrial",
    "Search",
    "SearchSettings",
    "SearchSpace",
    "apply_trial",
    "parse_space",
    "prepare_search",
    "searched_nodes",
    "skip_node",
    "space_of",
    "summarise",
    "trials_table",
]
