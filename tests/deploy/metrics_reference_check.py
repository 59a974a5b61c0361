#!/usr/bin/python3
"""Checks that docs/deployment.md "Metrics" documents exactly the metrics the daemon exports.

Every metric name the daemon's sources register (a "crmsync_..." string literal in daemon/*.cc)
must appear in the section, every name the section lists must be exported, the names issue #10
asks for must exist, and the names must follow the Prometheus conventions this project uses
(counters end in _total; no unit-less duration or size names).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy_check  # noqa: E402
from deploy_check import Files, mutation  # noqa: E402

DOC = "docs/deployment.md"
REQUIRED = ["crmsync_events_captured_total", "crmsync_apply_latency_seconds", "crmsync_consumer_lag",
            "crmsync_api_calls_total", "crmsync_api_budget_ratio", "crmsync_conflicts_open",
            "crmsync_changes_denied_total", "crmsync_deadletters_total", "crmsync_secret_age_seconds",
            "crmsync_build_info"]
NAME = re.compile(r'"(crmsync_[a-z0-9_]+)"')
DOC_NAME = re.compile(r"`(crmsync_[a-z0-9_]+)`")


def metrics_section(text: str) -> str | None:
    match = re.search(r"^## Metrics\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    return match.group(1) if match else None


def check(files: Files) -> list[str]:
    problems: list[str] = []
    exported: set[str] = set()
    counters: set[str] = set()
    for path, text in files.items():
        if not path.startswith("daemon/"):
            continue
        exported.update(NAME.findall(text))
        for call in re.finditer(r'series\(\s*"(crmsync_[a-z0-9_]+)",\s*(?:"(?:[^"\\]|\\.)*"\s*)+,\s*MetricType::counter',
                                text):
            counters.add(call.group(1))
    section = metrics_section(files[DOC])
    if section is None:
        return [f"{DOC}: no '## Metrics' section"]
    documented = set(DOC_NAME.findall(section))
    for name in sorted(exported - documented):
        problems.append(f"{name}: exported by the daemon but not documented in {DOC} 'Metrics'")
    for name in sorted(documented - exported):
        problems.append(f"{name}: documented in {DOC} 'Metrics' but not exported by the daemon")
    for name in REQUIRED:
        if name not in exported:
            problems.append(f"{name}: required metric (issue #10) not exported by the daemon")
    for name in sorted(exported):
        if name.endswith("_total") and name not in counters:
            problems.append(f"{name}: ends in _total but is not registered as a counter")
    for name in sorted(counters):
        if not name.endswith("_total"):
            problems.append(f"{name}: a counter whose name does not end in _total")
    for name in sorted(exported):
        if re.search(r"_(ms|millis|milliseconds|secs|minutes|kb|mb|percent)(_|$)", name):
            problems.append(f"{name}: use base units (seconds, bytes, ratio) in metric names")
    return problems


MUTATIONS = [
    mutation("a required metric renamed in the code", "daemon/apply_service.cc", '"crmsync_consumer_lag"',
             '"crmsync_consumer_backlog"', "crmsync_consumer_lag: required metric"),
    mutation("an exported metric left out of the docs", DOC, "| `crmsync_conflicts_open` |", "| conflicts |",
             "crmsync_conflicts_open: exported by the daemon but not documented"),
    mutation("a documented metric that does not exist", DOC, "`crmsync_apply_batches_total`",
             "`crmsync_apply_batches_committed_total`", "crmsync_apply_batches_committed_total: documented"),
    mutation("a counter without _total", "daemon/apply_service.cc", '"crmsync_apply_batches_total"',
             '"crmsync_apply_batches"', "crmsync_apply_batches: a counter whose name does not end in _total"),
    mutation("a millisecond unit", "daemon/apply_service.cc", '"crmsync_consumer_lag"', '"crmsync_consumer_lag_ms"',
             "use base units"),
]


def main() -> int:
    parser = deploy_check.common_arguments(__doc__.splitlines()[0])
    parser.add_argument("--binary", type=Path, help="unused (the deployment checks share one command line)")
    args = parser.parse_args()
    paths = [DOC] + sorted(str(p.relative_to(args.source_dir)) for p in (args.source_dir / "daemon").glob("*.cc"))
    files = deploy_check.read_files(args.source_dir, paths)
    return deploy_check.run("metrics reference", check, files, MUTATIONS)


if __name__ == "__main__":
    sys.exit(main())
