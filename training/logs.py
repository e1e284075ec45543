"""Run logs: metrics as JSON lines in `<run_dir>/metrics.jsonl`, TensorBoard too when it is installed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from alm.files import atomic_write_text

METRICS_FILE = "metrics.jsonl"


class MetricsLog:
    """Append-only JSONL of `{"step": N, ...}` records (main process only; others get `enabled=False`)."""

    def __init__(self, run_dir: Path, enabled: bool = True, tensorboard: bool = True, resume_step: int | None = None):
        self.enabled = enabled
        self.path = Path(run_dir) / METRICS_FILE
        self._tb = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.path.exists():
            self._drop_after(resume_step)
        elif resume_step is None:
            self.path.unlink(missing_ok=True)
        if tensorboard and importlib.util.find_spec("tensorboard") is not None:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))

    def _drop_after(self, step: int) -> None:
        """A resumed run repeats the steps after its checkpoint: forget what the killed run logged for them."""
        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        atomic_write_text(self.path, "".join(line + "\n" for line in kept))

    def log(self, step: int, **values) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"step": step, **values}, ensure_ascii=False) + "\n")
        if self._tb is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._tb.add_scalar(key, value, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
