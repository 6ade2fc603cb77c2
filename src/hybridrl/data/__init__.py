"""Datasets: one type, several file formats, and the built-in suite."""
from hybridrl.data.dataset import DataError, Dataset, load_dataset


def for_task(ds: Dataset, env_id: str) -> Dataset:
    """The data as `env_id`'s task defines its rewards and ends: a fixed-goal maze's (data/maze.py), an OGBench
    singletask env's (data/ogbench_data.py); anything else unchanged."""
    from hybridrl.data import maze, ogbench_data

    return ogbench_data.for_task(maze.for_task(ds, env_id), env_id)


__all__ = ["DataError", "Dataset", "for_task", "load_dataset"]
