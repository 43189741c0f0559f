#!/usr/bin/env bash
# editors.sh — end-to-end test of the editor support in editors/: the VS Code grammar,
# tokenized by vscode-textmate + vscode-oniguruma (tests/editors/test_grammar.js, node's
# built-in test runner), and the Vim syntax/ftdetect/ftplugin (tests/editors/test_vim.vim,
# when vim is installed).
# Usage: editors.sh PROMO_BINARY SOURCE_DIR   (the binary is not needed here)
# Skips (exit 0) only when node is absent.
set -euo pipefail

src=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
dir="$src/tests/editors"

if ! command -v node >/dev/null 2>&1; then
    echo "skipped: node not found"
    exit 0
fi

cd "$dir"
if [ ! -d node_modules/vscode-textmate ] || [ ! -d node_modules/vscode-oniguruma ]; then
    # exact versions from package-lock.json
    npm ci --no-audit --no-fund --loglevel=error
fi
node --test test_grammar.js

if command -v vim >/dev/null 2>&1; then
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    status=0
    VIM_TEST_LOG="$log" vim -N -u NONE -i NONE -es -S test_vim.vim </dev/null >/dev/null 2>&1 || status=$?
    if [ "$status" -ne 0 ] || [ "$(cat "$log" 2>/dev/null)" != "ok" ]; then
        echo "vim syntax test failed:"
        cat "$log" 2>/dev/null || true
        exit 1
    fi
    echo "vim syntax test: ok"
else
    echo "vim not found: the Vim syntax was not tested"
fi
