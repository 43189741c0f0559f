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
# the extension starts `promo lsp` and wires its answers in (a stand-in vscode module)
PROMO_BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") timeout 120 node --test test_extension.js
# the .vsix the build packed: the manifest, the license, the client and the grammar
vsix="$(dirname "$1")/promo-rule.vsix"
if [ -f "$vsix" ]; then
    python3 - "$vsix" <<'PY'
import sys, zipfile, xml.dom.minidom
z = zipfile.ZipFile(sys.argv[1])
names = set(z.namelist())
for n in ("[Content_Types].xml", "extension.vsixmanifest", "extension/package.json",
          "extension/extension.js", "extension/LICENSE.txt", "extension/README.md",
          "extension/syntaxes/rule.tmLanguage.json", "extension/language-configuration.json"):
    assert n in names, n
m = xml.dom.minidom.parseString(z.read("extension.vsixmanifest"))
assert m.getElementsByTagName("Identity")[0].getAttribute("Id") == "promo-rule"
xml.dom.minidom.parseString(z.read("[Content_Types].xml"))
import json
assert json.loads(z.read("extension/package.json"))["main"] == "./extension.js"
print("vsix ok:", len(names), "entries")
PY
fi

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
