"""The Node.js that jsii and the CDK CLI run on: the repo's own (npm `node@22`, see package.json).

The machine's Node may be end-of-life (Node 20 since 2026-10-30), and jsii then prints its warning box
on every synth. jsii starts `$JSII_NODE` (default: `node` from PATH) when `aws_cdk` is first imported,
so this must run before that import; `infra/__init__.py` calls it, the Makefile exports the same PATH.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

NODE_BIN = Path(__file__).resolve().parent.parent / "node_modules" / ".bin"


def use_repo_node(env: MutableMapping[str, str] = os.environ) -> None:
    """Put node_modules/.bin first on PATH and point jsii at its node; a no-op before `npm ci` ran."""
    node = NODE_BIN / "node"
    if not node.exists():
        return
    entries = env.get("PATH", "").split(os.pathsep)
    if entries[0] != str(NODE_BIN):
        env["PATH"] = os.pathsep.join([str(NODE_BIN), *(e for e in entries if e and e != str(NODE_BIN))])
    env.setdefault("JSII_NODE", str(node))
