"""Tooling users run on results: sweeps (grid, local pool, Ray), rliable reports, learning-curve plots."""
