"""The training loop and what it needs: evaluation, checkpoints, logging."""
