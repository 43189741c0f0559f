#!/usr/bin/env bash
# promo lsp: a script speaks LSP to it and asserts the replies (tests/tools/lsp_client.py).
set -euo pipefail
timeout 60 python3 "$2/tests/tools/lsp_client.py" "$1"
