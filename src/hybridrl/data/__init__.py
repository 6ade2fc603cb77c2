"""Datasets: one type, several file formats, and the built-in suite."""
from hybridrl.data.dataset import DataError, Dataset, load_dataset

__all__ = ["DataError", "Dataset", "load_dataset"]
