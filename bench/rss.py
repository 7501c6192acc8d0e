"""Memory of the processes a benchmark starts: RSS of one process, PSS of a Postgres cluster.

Postgres is a postmaster and its children sharing buffers, so their RSS would count the
shared memory once per process; PSS divides each shared page among its users, and the sum
over the cluster counts it once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import psutil

MB = 1024 * 1024


def process_rss(pid: int) -> float:
    """RSS of one process in MB (0 when it is gone)."""
    try:
        return float(psutil.Process(pid).memory_info().rss) / MB
    except psutil.Error:
        return 0.0


def postgres_pss(data_dir: Path) -> float:
    """The summed PSS in MB of the Postgres processes whose command line names `data_dir`."""
    total = 0
    seen: set[int] = set()
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            if "postgres" not in (proc.info["name"] or "") or str(data_dir) not in cmd:
                continue
            for member in [proc, *proc.children(recursive=True)]:
                if member.pid not in seen:
                    seen.add(member.pid)
                    total += member.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / MB


class PeakSampler(threading.Thread):
    """Calls `measure` every `interval` seconds and keeps the largest value."""

    def __init__(self, measure: Callable[[], float], interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.measure = measure
        self.interval = interval
        self.peak = 0.0
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.peak = max(self.peak, self.measure())
            except psutil.Error:
                pass
            self.stop_event.wait(self.interval)

    def stop(self) -> float:
        """Stop sampling (after one last sample) and return the peak."""
        self.stop_event.set()
        self.join(10)
        try:
            self.peak = max(self.peak, self.measure())
        except psutil.Error:
            pass
        return self.peak

    @classmethod
    def started(cls, measure: Callable[[], float], interval: float = 0.1) -> PeakSampler:
        sampler = cls(measure, interval)
        sampler.start()
        return sampler
