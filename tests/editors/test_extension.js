// test_extension.js — the VS Code extension (editors/vscode/extension.js) against a
// stand-in of the `vscode` module: activating it starts `promo lsp` (PROMO_BIN), an
// open .rule document gets its diagnostics, and the hover, definition, completion and
// formatting providers answer through the server. Run by tests/cli/editors.sh.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const Module = require('module');
const path = require('path');

const registered = {};
const diagnostics = new Map();
let diagnosticsSeen;
const seen = new Promise((r) => { diagnosticsSeen = r; });
class Position { constructor(line, character) { this.line = line; this.character = character; } }
class Range { constructor(start, end) { this.start = start; this.end = end; } }
const text = 'set dairy = category "dairy"\ncampaign d "Молочное" { priority 5 then discount 10% on lines where diary }\n';
const doc = {
  uri: { toString: () => 'file:///tmp/ext.rule' }, languageId: 'promo-rule', version: 1,
  getText: () => text,
};
const vscode = {
  Position, Range,
  Location: class { constructor(uri, range) { this.uri = uri; this.range = range; } },
  Uri: { parse: (s) => ({ toString: () => s }) },
  Hover: class { constructor(md) { this.contents = md; } },
  MarkdownString: class { constructor(v) { this.value = v; } },
  Diagnostic: class { constructor(range, message, severity) { Object.assign(this, { range, message, severity }); } },
  DiagnosticSeverity: { Error: 0, Warning: 1 },
  CompletionItem: class { constructor(label, kind) { this.label = label; this.kind = kind; } },
  TextEdit: { replace: (range, newText) => ({ range, newText }) },
  CodeLens: class { constructor(range, command) { this.range = range; this.command = command; } },
  commands: { registerCommand: (name, fn) => { registered[name] = fn; } },
  window: {
    showErrorMessage: (m) => { throw new Error(m); },
    createOutputChannel: () => ({ show() {}, appendLine() {}, append() {} }),
  },
  workspace: {
    getConfiguration: () => ({ get: () => process.env.PROMO_BIN }),
    textDocuments: [doc],
    onDidOpenTextDocument: () => ({}), onDidChangeTextDocument: () => ({}), onDidCloseTextDocument: () => ({}),
  },
  languages: {
    createDiagnosticCollection: () => ({
      set: (uri, list) => { diagnostics.set(uri.toString(), list); diagnosticsSeen(); },
    }),
    registerHoverProvider: (s, p) => { registered.hover = p; },
    registerDefinitionProvider: (s, p) => { registered.definition = p; },
    registerReferenceProvider: (s, p) => { registered.references = p; },
    registerCompletionItemProvider: (s, p) => { registered.completion = p; },
    registerDocumentFormattingEditProvider: (s, p) => { registered.formatting = p; },
    registerCodeLensProvider: (s, p) => { registered.codeLens = p; },
  },
};
const load = Module._load;
Module._load = function (request, ...rest) {
  return request === 'vscode' ? vscode : load.call(this, request, ...rest);
};
const ext = require(path.join(__dirname, '../../editors/vscode/extension.js'));

test('the extension runs promo lsp and wires its answers into VS Code', async () => {
  assert.ok(process.env.PROMO_BIN, 'PROMO_BIN: the promo binary');
  const context = { subscriptions: [] };
  await ext.activate(context);
  await seen;
  const d = diagnostics.get('file:///tmp/ext.rule').filter((x) => x.code === 'E006');
  assert.strictEqual(d.length, 1);
  assert.strictEqual(d[0].message, "unknown name 'diary' (did you mean 'dairy'?)");
  assert.strictEqual(d[0].code, 'E006');
  const col = text.split('\n')[1].indexOf('diary');
  assert.deepStrictEqual([d[0].range.start.line, d[0].range.start.character, d[0].range.end.character], [1, col, col + 5]);
  const h = await registered.hover.provideHover(doc, new Position(0, 5));
  assert.match(h.contents.value, /set dairy = category "dairy"/);
  const loc = await registered.definition.provideDefinition(doc, new Position(0, 6));
  assert.deepStrictEqual([loc.range.start.line, loc.range.start.character], [0, 4]);
  const items = await registered.completion.provideCompletionItems(doc, new Position(2, 0));
  assert.ok(items.some((i) => i.label === 'priority' && i.kind === 13));
  assert.ok(items.some((i) => i.label === 'dairy'));
  const edits = await registered.formatting.provideDocumentFormattingEdits(doc);
  assert.strictEqual(edits.length, 1);
  assert.match(edits[0].newText, /\n {4}priority 5\n/);
  assert.deepStrictEqual(await registered.codeLens.provideCodeLenses(doc), []); // no examples here
  assert.strictEqual(typeof registered['promo.runExamples'], 'function');
  await ext.deactivate();
});
