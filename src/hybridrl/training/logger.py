"""Metrics sinks: CSV (the record), TensorBoard, optional Weights & Biases, and a progress bar."""
from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FIXED_COLUMNS = ["step", "phase", "wall_time", "steps_per_sec"]
EVAL_COLUMNS = ["episode_return", "eval_return", "eval_return_std", "normalized_score", "success_rate",
                "eval_return_stochastic", "normalized_score_stochastic"]


def _new_name(old: str, columns: list[str]) -> str:
    """A metric's column under this version: the same name, or the one column namespacing it (`q_mean` ->
    `critic/q_mean`); otherwise the old name (its values are then kept only in the `.before-resume` copy)."""
    if old in columns:
        return old
    spaced = [c for c in columns if c.endswith("/" + old)]
    return spaced[0] if len(spaced) == 1 else old


class MetricsLogger:
    """One CSV row per log step with a fixed header; resume truncates rows past the checkpoint."""

    def __init__(self, run_dir: str | os.PathLike, metric_names: list[str], *,
                 keep: Callable[[str, int], bool] | None = None, tensorboard: bool = True, wandb: bool = False,
                 wandb_project: str = "hybridrl", config: dict[str, Any] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "metrics.csv"
        self.columns = FIXED_COLUMNS + sorted(metric_names) + EVAL_COLUMNS
        self._prepare(keep)
        self._file = open(self.path, "a", newline="")  # noqa: SIM115 - lives as long as the logger
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns, extrasaction="ignore")
        if self.path.stat().st_size == 0:
            self._writer.writeheader()
            self._file.flush()
        self._tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(str(self.run_dir / "tb"), flush_secs=30)
        self._wandb = None
        if wandb:
            try:
                import wandb as wandb_lib
            except ImportError:
                raise RuntimeError("Weights & Biases logging was asked for (train.wandb=true) but wandb is "
                                   "not installed: pip install wandb") from None
            self._wandb = wandb_lib.init(project=wandb_project, dir=str(self.run_dir), config=config,
                                         resume="allow", name=self.run_dir.name)

    def _prepare(self, keep: Callable[[str, int], bool] | None) -> None:
        """On resume keep the rows `keep(phase, step)` accepts (those up to the checkpoint); drop torn lines."""
        if not self.path.exists():
            return
        if keep is None:
            self.path.unlink()
            return
        with open(self.path, newline="") as f:
            lines = f.read().splitlines(keepends=True)
        header = lines[0].rstrip("\r\n").split(",") if lines else []
        renamed = header != self.columns
        if renamed and header:  # written by another version (e.g. before metrics were namespaced): keep its rows
            backup = self.path.with_name(self.path.name + ".before-resume")  # under the new names, and the file
            if not backup.exists():
                shutil.copyfile(self.path, backup)
        columns = [_new_name(c, self.columns) for c in header]
        kept = ([",".join(self.columns) + "\r\n"] if renamed else [lines[0]]) if header else []
        for line in lines[1:]:
            if not line.endswith("\n"):
                break  # torn write from a killed run
            row = next(csv.reader([line]))
            if len(row) != len(header) or not row[0].isdigit() or not keep(row[1], int(row[0])):
                break
            if renamed:
                values = dict(zip(columns, row, strict=True))
                buf = io.StringIO()
                csv.writer(buf).writerow([values.get(c, "") for c in self.columns])  # as DictWriter writes rows
                line = buf.getvalue()
            kept.append(line)
        tmp = self.path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as f:
            f.writelines(kept)
        os.replace(tmp, self.path)

    def log(self, row: dict[str, Any]) -> None:
        clean = {k: _fmt(v) for k, v in row.items() if k in self.columns}
        try:
            self._writer.writerow(clean)
            self._file.flush()
        except OSError as exc:  # a torn row is dropped on --resume, with every row past the checkpoint
            from hybridrl.checkpoint import StorageError

            raise StorageError(exc.errno, f"cannot append to {self.path}: {exc.strerror or exc}; on --resume the "
                                          "metrics are cut back to the last checkpoint") from exc
        step = int(row["step"])
        numeric = {k: float(v) for k, v in row.items()
                   if k not in ("step", "phase") and isinstance(v, int | float) and v is not None}
        if self._tb is not None:
            for k, v in numeric.items():
                self._tb.add_scalar(f"{row['phase']}/{k}", v, step)
        if self._wandb is not None:
            self._wandb.log({f"{row['phase']}/{k}": v for k, v in numeric.items()}, step=step)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a failed write was reported by log(); do not mask that error
            self._file.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


def _fmt(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    return v


class Progress:
    """A rich progress bar with steps/s, ETA and the latest evaluation on a terminal; off a terminal (a log
    file, CI, a cluster job) one plain line every `interval` seconds instead; silent when not wanted."""

    def __init__(self, enabled: bool, total: int, start: int, description: str, *, stream: Any = None,
                 interval: float = 30.0, offline_steps: int = 0, warmup_steps: int = 0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled and tty
        self.plain = enabled and not tty
        self._bar = None
        self.total, self.description, self.interval = total, description, interval
        self._step, self._sps, self._info, self._phase = start, None, "", ""
        self._printed_at: float | None = None
        self._last_line: str | None = None
        self.offline_steps = offline_steps  # a step counter past this is the online phase's (step - offline_steps)
        # the first online steps act without updates, several times faster than the rest: their own segment, so
        # neither the bar nor the plain line extrapolates the warm-up's rate over the whole online phase
        self.warmup_steps = warmup_steps
        self._segment = ""
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[sps]}"),
                                     TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                     transient=False)
            self._bar.start()
            self._task = self._bar.add_task(description, total=total, completed=start, sps="", info="")

    def update(self, step: int, sps: float | None = None, info: str | None = None, phase: str | None = None) -> None:
        if self.plain:
            self._phase = phase or self._phase
            segment = self._segment_of(self._phase, step)
            if segment != self._segment:  # the last segment's rate says nothing about this one's
                self._segment, self._sps = segment, None
            self._step = step
            if sps is not None and self._segment_of(self._phase, step - 1) == segment:  # a rate measures the
                self._sps = sps  # steps up to `step`: one reported at a segment's first step is the last one's
            self._info = info if info is not None else self._info
            now = time.monotonic()
            if self._printed_at is None or now - self._printed_at >= self.interval:
                self._print_line()
                self._printed_at = now
            return
        if self._bar is None:
            return
        if phase in ("offline", "online"):
            self._phase = phase
        segment = self._segment_of(self._phase, step)
        if segment != self._segment and self._phase in ("offline", "online"):  # a bar, rate and ETA of its own
            self._segment = segment
            start, end = self._segment_bounds(segment)
            self._bar.reset(self._task, total=end - start, completed=step - start, description=segment)
        start = self._segment_bounds(segment)[0] if self._phase in ("offline", "online") else 0
        fields: dict[str, Any] = {"completed": step - start}
        if sps is not None:
            fields["sps"] = f"{sps:,.0f} steps/s"
        if info is not None:
            fields["info"] = info
        self._bar.update(self._task, **fields)

    def _bounds(self, phase: str) -> tuple[int, int]:
        return (0, self.offline_steps) if phase == "offline" else (self.offline_steps, self.total)

    def _segment_of(self, phase: str, step: int) -> str:
        if phase == "online" and step - self.offline_steps < self.warmup_steps:
            return "online warm-up"
        return phase

    def _segment_bounds(self, segment: str) -> tuple[int, int]:
        """The bar's span: the warm-up's steps, then the online steps after it."""
        if segment == "online warm-up":
            return self.offline_steps, self.offline_steps + self.warmup_steps
        if segment == "online" and self.warmup_steps:
            return self.offline_steps + min(self.warmup_steps, self.total - self.offline_steps), self.total
        return self._bounds(segment)

    def _print_line(self) -> None:
        """Counts and ETA are the current phase's: offline updates and env steps run at different rates, so a
        whole-run ETA at the current rate would be wrong in both phases."""
        parts = [f"hybridrl {self.description}"]
        if self._phase in ("offline", "online"):
            start, end = self._bounds(self._phase)
            local, remaining = self._step - start, max(end - self._step, 0)
            parts.append(f"{self._phase} step {local:,}/{end - start:,}"
                         + (f" (run {self._step:,}/{self.total:,})" if end - start != self.total else ""))
        else:
            parts.append(f"step {self._step:,}/{self.total:,}")
            remaining = max(self.total - self._step, 0)
        warm = self._segment == "online warm-up"
        if warm:  # no updates yet: the rate after the warm-up is unknown, so only the warm-up's own end is estimated
            parts.append(f"warm-up to {self.warmup_steps:,}, no updates yet")
            remaining = max(self.offline_steps + self.warmup_steps - self._step, 0)
        if self._sps:
            parts.append(f"{self._sps:,.0f} steps/s")
            eta = remaining / self._sps
            parts.append(("warm-up ends in " if warm else "ETA ")
                         + f"{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d}")
        if self._info:
            parts.append(self._info)
        line = " | ".join(parts)
        if line != self._last_line:  # the closing line repeats the last one when nothing moved since
            print(line, file=self.stream, flush=True)
        self._last_line = line

    def close(self) -> None:
        if self.plain and self._printed_at is not None:
            self._print_line()
        if self._bar is not None:
            self._bar.stop()
