"""Service metrics, rendered in the Prometheus text exposition format."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
Labels = tuple[tuple[str, str], ...]
COUNTERS = {  # name: help; counted with `Metrics.count`
    "beautynet_stalled_connections_total": (
        "Connections closed because a request head (phase=headers) or body (phase=body) "
        "stopped arriving."
    ),
    "beautynet_client_disconnects_total": "Requests whose client went away before the answer.",
}


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{key}="{value}"' for key, value in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class Histogram:
    """Cumulative buckets, sum and count per label set."""

    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        self.name, self.help, self.buckets = name, help_text, tuple(buckets)
        self._counts: dict[Labels, list[int]] = defaultdict(lambda: [0] * len(self.buckets))
        self._sum: dict[Labels, float] = defaultdict(float)
        self._n: dict[Labels, int] = defaultdict(int)

    def observe(self, value: float, **labels: str) -> None:
        """Record one value."""
        key = tuple(sorted(labels.items()))
        counts = self._counts[key]
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                counts[i] += 1
        self._sum[key] += value
        self._n[key] += 1

    def count(self, **labels: str) -> int:
        """How many values were recorded with these labels."""
        return self._n.get(tuple(sorted(labels.items())), 0)

    def render(self) -> list[str]:
        """Prometheus text lines."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key in sorted(self._n):
            for bound, count in zip(self.buckets, self._counts[key], strict=True):
                le = _labels(key, 'le="' + str(bound) + '"')
                lines.append(f"{self.name}_bucket{le} {count}")
            inf = _labels(key, 'le="+Inf"')
            lines.append(f"{self.name}_bucket{inf} {self._n[key]}")
            lines.append(f"{self.name}_sum{_labels(key)} {self._sum[key]:.6f}")
            lines.append(f"{self.name}_count{_labels(key)} {self._n[key]}")
        return lines


ReadLabelled = Callable[[], list[tuple[dict[str, str], float]]]  # values by label set


class Metrics:
    """Counters, gauges and histograms of one service (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[Labels, int] = defaultdict(int)
        self.batch_size = Histogram(
            "beautynet_batch_size", "Images per generator call.", BATCH_BUCKETS
        )
        self.latency = Histogram(
            "beautynet_stage_seconds", "Time spent per request stage.", LATENCY_BUCKETS
        )
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}
        self.labelled_gauges: dict[str, tuple[str, ReadLabelled]] = {}
        self.counters: dict[str, dict[Labels, int]] = {name: defaultdict(int) for name in COUNTERS}
        for phase in ("headers", "body"):
            self.counters["beautynet_stalled_connections_total"][(("phase", phase),)] = 0

    def count(self, name: str, **labels: str) -> None:
        """One more of counter `name` (one of COUNTERS) with these labels."""
        with self._lock:
            self.counters[name][tuple(sorted(labels.items()))] += 1

    def counted(self, name: str, **labels: str) -> int:
        """The value of counter `name` with these labels."""
        with self._lock:
            return self.counters[name].get(tuple(sorted(labels.items())), 0)

    def count_request(self, route: str, status: int) -> None:
        """One answered request."""
        with self._lock:
            self.requests[(("route", route), ("status", str(status)))] += 1

    def observe_batch(self, size: int) -> None:
        """One generator call of `size` images."""
        with self._lock:
            self.batch_size.observe(size)

    def observe_stage(self, stage: str, seconds: float) -> None:
        """Time one request spent in `stage` (decode, codec_wait, queue, translate, encode...)."""
        with self._lock:
            self.latency.observe(seconds, stage=stage)

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """A value read when the metrics are rendered."""
        self.gauges[name] = (help_text, read)

    def info(self, name: str, help_text: str, read: Callable[[], list[dict[str, str]]]) -> None:
        """Label sets read when the metrics are rendered, each shown as `name{labels} 1`."""
        self.labelled(name, help_text, lambda: [(labels, 1.0) for labels in read()])

    def labelled(self, name: str, help_text: str, read: ReadLabelled) -> None:
        """Values by label set, read when the metrics are rendered: `name{labels} value`."""
        self.labelled_gauges[name] = (help_text, read)

    def render(self) -> str:
        """The whole exposition, Prometheus text format 0.0.4."""
        with self._lock:
            lines = [
                "# HELP beautynet_requests_total Answered HTTP requests.",
                "# TYPE beautynet_requests_total counter",
            ]
            for key, value in sorted(self.requests.items()):
                lines.append(f"beautynet_requests_total{_labels(key)} {value}")
            for name, values in sorted(self.counters.items()):
                lines += [f"# HELP {name} {COUNTERS[name]}", f"# TYPE {name} counter"]
                lines += [f"{name}{_labels(key)} {n}" for key, n in sorted(values.items())]
            lines += self.batch_size.render() + self.latency.render()
        for name, (help_text, read) in sorted(self.gauges.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {read()}"]
        for name, (help_text, read_values) in sorted(self.labelled_gauges.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            for labels, reading in read_values():
                lines.append(f"{name}{_labels(tuple(sorted(labels.items())))} {reading:g}")
        return "\n".join(lines) + "\n"
