"""The benchmark suite runs end to end at a tiny scale, so it cannot rot. No timing is
asserted here: speed targets live in `make bench` and docs/benchmarks.md."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmarks_run_and_write_their_report(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--scale", "smoke", "--output", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = (tmp_path / "benchmarks.md").read_text()
    for section in (
        "## Targets",
        "## 1. Fan-out throughput",
        "## 2. Read cost of targeting",
        "## 3. Cold start",
        "## 4. Package size",
        "## 5. Local gateway capacity",
        "## 6. Broadcast through the sharded path",
        "## 8. Reply latency: route responses",
        "## 7. Channels: history and resume",
        "## 9. Push latency: publish to receipt, against the floor",
        "## 10. What a month costs",
        "## 11. A push's trace",
        "## 12. Wildcard lookup",
    ):
        assert section in report
    assert (tmp_path / "benchmarks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The latency model is stated and every entry point is measured, a client's publish
    # frame among them (to a topic: the only audience a client publishes to); the cost section prices each workload and the hosted services beside it.
    assert "25 ms per `@connections` post, 3 ms per DynamoDB call" in report
    for entry in ("| publish API |", "| direct invoke |", "| EventBridge event |"):
        assert entry in report
    assert "| client publish | topic |" in report
    for workload in ("**chat**", "**notifications**", "**live broadcast**"):
        assert workload in report
    assert report.count("**wspush on AWS, total**") == 3
    assert report.count("AppSync Events: operations") == 3
    assert "its floor at N=1, every entry point and audience" in report
    # Zero loss is checked while measuring: every gateway row must report 0 lost.
    gateway_rows = [
        line for line in report.splitlines() if line.startswith(("| bare", "| wspush local"))
    ]
    assert gateway_rows and all(line.rstrip(" |").endswith("| 0") for line in gateway_rows)
    # Exactly-once is counted by the endpoint; a duplicate or a miss would show "no" here.
    assert (
        "complete and exactly once | 300 of 300 got one copy; 300 posts; 1 envelope id | yes"
        in report
    )
