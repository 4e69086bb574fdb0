"""Property-based tests generated from the OpenAPI spec (schemathesis CLI): no 5xx.

Bounded: at most 15 examples per operation, one worker, about 15-30 s. The
explanation and outreach routes answer 501 by design until ``graph.explain``
and ``graph.outreach`` are merged; they are left out while those are absent.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .conftest import ApiServer


def test_no_server_errors_on_generated_requests(api_server: ApiServer, tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("schemathesis")
    cmd = [str(st), "run", f"{api_server.url}/openapi.json", "-H", f"X-API-Key: {api_server.key}",
           "--checks", "not_a_server_error", "--max-examples", "15", "--workers", "1",
           "--phases", "examples,coverage,fuzzing", "--seed", "7", "--request-timeout", "60",
           # The webhook receivers mounted beside the API answer 503 by design until their secrets
           # are set, and are tested with signed payloads in tests/api/test_webhooks.py.
           "--exclude-path-regex", "^/webhooks/"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env={"PATH": str(st.parent), "HOME": str(tmp_path), "SCHEMATHESIS_HOOKS": ""})
    tail = "\n".join(done.stdout.splitlines()[-60:])
    assert done.returncode == 0, f"schemathesis found failures:\n{tail}\n{done.stderr[-2000:]}"
    tested = re.search(r"Tested: (\d+)", done.stdout)
    assert tested and int(tested.group(1)) >= 13, tail  # every operation was exercised
