#!/usr/bin/env python3
"""lsp_client.py PROMO — speaks LSP (JSON-RPC, Content-Length framing) to `promo lsp`
and asserts its replies: initialize, didOpen with an error (diagnostics with UTF-16
ranges after Cyrillic text), hover, definition, references, completion, didChange,
formatting, shutdown, exit. Exits non-zero on the first wrong reply."""
import json, subprocess, sys

promo = sys.argv[1]
p = subprocess.Popen([promo, "lsp", "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
next_id = [0]

def send(msg):
    body = json.dumps(msg, ensure_ascii=False).encode()
    p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    p.stdin.flush()

def read():
    n = None
    while True:
        line = p.stdout.readline()
        assert line, "server closed the stream"
        if line in (b"\r\n", b"\n"):
            break
        k, v = line.decode().split(":", 1)
        if k.lower() == "content-length":
            n = int(v)
    return json.loads(p.stdout.read(n))

def request(method, params):
    next_id[0] += 1
    send({"jsonrpc": "2.0", "id": next_id[0], "method": method, "params": params})
    while True:
        m = read()
        if m.get("id") == next_id[0]:
            assert "error" not in m, m
            return m["result"]

def notify(method, params):
    send({"jsonrpc": "2.0", "method": method, "params": params})

def diagnostics():
    m = read()
    assert m["method"] == "textDocument/publishDiagnostics", m
    return m["params"]["diagnostics"]

uri = "file:///tmp/%D0%BC/sets.rule"
doc = ('set dairy = category "dairy"\n'
       'group discounts\n'
       'campaign dairy_10 "Молочное: 10%" { priority 100 group discounts when any(lines where diary) then discount 10% on lines where dairy }\n')
caps = request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})["capabilities"]
for c in ("hoverProvider", "definitionProvider", "referencesProvider", "documentFormattingProvider"):
    assert caps[c] is True, caps
assert caps["textDocumentSync"]["change"] == 1 and "completionProvider" in caps, caps
notify("initialized", {})

notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "promo", "version": 1, "text": doc}})
d = diagnostics()
assert len(d) == 1, d
col = doc.splitlines()[2].index("diary")  # Python counts code points = UTF-16 units here
assert d[0]["range"] == {"start": {"line": 2, "character": col}, "end": {"line": 2, "character": col + 5}}, d
assert d[0]["severity"] == 1 and d[0]["code"] == "E006" and d[0]["source"] == "promo", d
assert d[0]["message"] == "unknown name 'diary' (did you mean 'dairy'?)", d

# fix it; a warning-free document publishes no diagnostics
doc = doc.replace("where diary)", "where dairy)")
notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": doc}]})
assert diagnostics() == [], "diagnostics after the fix"

td = {"uri": uri}
line2 = doc.splitlines()[2]
use = line2.rindex("dairy")  # the set used in `on lines where dairy`
h = request("textDocument/hover", {"textDocument": td, "position": {"line": 2, "character": use + 1}})
assert h["contents"]["kind"] == "markdown" and 'set dairy = category "dairy"' in h["contents"]["value"], h
h = request("textDocument/hover", {"textDocument": td, "position": {"line": 2, "character": line2.index("dairy_10") + 2}})
assert h["contents"]["value"] == 'campaign `dairy_10` "Молочное: 10%"\n\npriority 100', h
h = request("textDocument/hover", {"textDocument": td, "position": {"line": 1, "character": 8}})
assert "campaigns in it: `dairy_10`" in h["contents"]["value"], h
h = request("textDocument/hover", {"textDocument": td, "position": {"line": 2, "character": line2.index("priority") + 1}})
assert h is None, h  # a keyword that is not a fact

loc = request("textDocument/definition", {"textDocument": td, "position": {"line": 2, "character": use + 2}})
assert loc == {"uri": uri, "range": {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 9}}}, loc
refs = request("textDocument/references", {"textDocument": td, "position": {"line": 0, "character": 5}, "context": {"includeDeclaration": True}})
assert [(r["range"]["start"]["line"], r["range"]["start"]["character"]) for r in refs] == \
    [(0, 4), (2, line2.index("where dairy)") + 6), (2, use)], refs
refs = request("textDocument/references", {"textDocument": td, "position": {"line": 1, "character": 7}, "context": {"includeDeclaration": True}})
assert len(refs) == 2, refs  # group discounts: declared and used

items = request("textDocument/completion", {"textDocument": td, "position": {"line": 3, "character": 0}})["items"]
labels = {i["label"]: i for i in items}
for k in ("priority", "campaign", "when", "total", "spend_limit"):
    assert labels[k]["kind"] == 14, k
assert labels["dairy"]["detail"] == "set" and labels["dairy_10"]["detail"] == "campaign", labels.get("dairy")
assert labels["discounts"]["detail"] == "group"

edits = request("textDocument/formatting", {"textDocument": td, "options": {"tabSize": 4, "insertSpaces": True}})
assert len(edits) == 1 and edits[0]["range"]["start"] == {"line": 0, "character": 0}, edits
formatted = edits[0]["newText"]
import tempfile, os
with tempfile.TemporaryDirectory() as tmp:  # the same text as `promo fmt`
    f = os.path.join(tmp, "d.rule")
    open(f, "w").write(doc)
    subprocess.run([promo, "fmt", f], check=True)
    assert open(f).read() == formatted, formatted
assert "\n    priority 100\n" in formatted and "\n    when     any(lines where dairy)\n" in formatted, formatted
# formatting the formatted text changes nothing
notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": formatted}]})
assert diagnostics() == []
assert request("textDocument/formatting", {"textDocument": td, "options": {}}) == []

# code lens over the campaign with examples
ex_doc = 'campaign tea "Tea" {\n    then coupon "T"\n    example "a" {\n        line sku "1" qty 1 price 1\n        expect coupon "T"\n    }\n}\ncampaign bare { then coupon "B" }\n'
ex_uri = "file:///tmp/lens.rule"
notify("textDocument/didOpen", {"textDocument": {"uri": ex_uri, "languageId": "promo", "version": 1, "text": ex_doc}})
diagnostics()
lenses = request("textDocument/codeLens", {"textDocument": {"uri": ex_uri}})
assert lenses == [{"range": {"start": {"line": 0, "character": 9}, "end": {"line": 0, "character": 12}},
                   "command": {"title": "run 1 example", "command": "promo.runExamples", "arguments": [ex_uri, "tea"]}}], lenses
assert caps["codeLensProvider"] == {"resolveProvider": False}, caps

# an unknown request is an error, the server goes on
next_id[0] += 1
send({"jsonrpc": "2.0", "id": next_id[0], "method": "workspace/unknownThing", "params": {}})
m = read()
assert m["id"] == next_id[0] and m["error"]["code"] == -32601, m

assert request("shutdown", None) is None
notify("exit", None)
assert p.wait(timeout=10) == 0, p.returncode
print("lsp ok")
