// extension.js — starts `promo lsp` (the language server of the promo CLI) for .rule
// files and connects it to VS Code: diagnostics as you type, hover, go to definition,
// find references, completion, formatting, and a code lens that runs a campaign's
// examples (promo test --filter ID FILE) into the "promo" output channel. A small LSP client with no dependency
// (JSON-RPC over the server's stdio, Content-Length framing), so the extension packs
// offline (scripts/package_vsix.py). The server is `promo` on the PATH, or the
// `promo.path` setting.
'use strict';
const vscode = require('vscode');
const cp = require('child_process');

let server = null;

class Client {
  constructor(command) {
    this.proc = cp.spawn(command, ['lsp', '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.nextId = 1;
    this.pending = new Map();
    this.buf = Buffer.alloc(0);
    this.onNotification = () => {};
    this.proc.stdout.on('data', (d) => this.receive(d));
    this.proc.on('error', (e) => {
      vscode.window.showErrorMessage(`promo lsp could not start (${command}): ${e.message}`);
    });
  }

  receive(data) {
    this.buf = Buffer.concat([this.buf, data]);
    for (;;) {
      const head = this.buf.indexOf('\r\n\r\n');
      if (head < 0) return;
      const m = /Content-Length: *(\d+)/i.exec(this.buf.slice(0, head).toString());
      const len = m ? parseInt(m[1], 10) : 0;
      if (this.buf.length < head + 4 + len) return;
      const msg = JSON.parse(this.buf.slice(head + 4, head + 4 + len).toString('utf8'));
      this.buf = this.buf.slice(head + 4 + len);
      if (msg.id !== undefined && this.pending.has(msg.id)) {
        const { resolve, reject } = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) reject(new Error(msg.error.message));
        else resolve(msg.result);
      } else if (msg.method) {
        this.onNotification(msg.method, msg.params);
      }
    }
  }

  send(msg) {
    const body = Buffer.from(JSON.stringify(Object.assign({ jsonrpc: '2.0' }, msg)), 'utf8');
    this.proc.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.proc.stdin.write(body);
  }

  request(method, params) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ id, method, params });
    });
  }

  notify(method, params) {
    this.send({ method, params });
  }
}

const pos = (p) => new vscode.Position(p.line, p.character);
const range = (r) => new vscode.Range(pos(r.start), pos(r.end));
const location = (l) => new vscode.Location(vscode.Uri.parse(l.uri), range(l.range));
const at = (doc, p) => ({ textDocument: { uri: doc.uri.toString() }, position: { line: p.line, character: p.character } });

let channel = null;
const output = () => channel || (channel = vscode.window.createOutputChannel('promo'));

async function activate(context) {
  const command = vscode.workspace.getConfiguration('promo').get('path') || 'promo';
  const client = new Client(command);
  server = client;
  const diags = vscode.languages.createDiagnosticCollection('promo');
  context.subscriptions.push(diags);
  client.onNotification = (method, params) => {
    if (method !== 'textDocument/publishDiagnostics') return;
    diags.set(vscode.Uri.parse(params.uri), params.diagnostics.map((d) => {
      const v = new vscode.Diagnostic(range(d.range), d.message,
        d.severity === 1 ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
      v.code = d.code;
      v.source = 'promo';
      return v;
    }));
  };
  await client.request('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
  client.notify('initialized', {});

  const isRule = (doc) => doc.languageId === 'promo-rule';
  const open = (doc) => isRule(doc) && client.notify('textDocument/didOpen', {
    textDocument: { uri: doc.uri.toString(), languageId: 'promo', version: doc.version, text: doc.getText() },
  });
  vscode.workspace.textDocuments.forEach(open);
  context.subscriptions.push(
    vscode.workspace.onDidOpenTextDocument(open),
    vscode.workspace.onDidChangeTextDocument((e) => isRule(e.document) && client.notify('textDocument/didChange', {
      textDocument: { uri: e.document.uri.toString(), version: e.document.version },
      contentChanges: [{ text: e.document.getText() }],
    })),
    vscode.workspace.onDidCloseTextDocument((doc) => isRule(doc) && client.notify('textDocument/didClose', {
      textDocument: { uri: doc.uri.toString() },
    })));

  const sel = { language: 'promo-rule' };
  context.subscriptions.push(
    vscode.languages.registerHoverProvider(sel, {
      async provideHover(doc, p) {
        const h = await client.request('textDocument/hover', at(doc, p));
        return h ? new vscode.Hover(new vscode.MarkdownString(h.contents.value)) : null;
      },
    }),
    vscode.languages.registerDefinitionProvider(sel, {
      async provideDefinition(doc, p) {
        const l = await client.request('textDocument/definition', at(doc, p));
        return l ? location(l) : null;
      },
    }),
    vscode.languages.registerReferenceProvider(sel, {
      async provideReferences(doc, p) {
        const ls = await client.request('textDocument/references',
          Object.assign(at(doc, p), { context: { includeDeclaration: true } }));
        return (ls || []).map(location);
      },
    }),
    vscode.languages.registerCompletionItemProvider(sel, {
      async provideCompletionItems(doc, p) {
        const r = await client.request('textDocument/completion', at(doc, p));
        return r.items.map((i) => {
          const c = new vscode.CompletionItem(i.label, i.kind - 1);
          c.detail = i.detail;
          return c;
        });
      },
    }, '.'),
    vscode.languages.registerCodeLensProvider(sel, {
      async provideCodeLenses(doc) {
        const ls = await client.request('textDocument/codeLens', { textDocument: { uri: doc.uri.toString() } });
        return (ls || []).map((l) => new vscode.CodeLens(range(l.range), {
          title: l.command.title, command: l.command.command, arguments: l.command.arguments,
        }));
      },
    }),
    vscode.commands.registerCommand('promo.runExamples', (uri, id) => {
      const file = vscode.Uri.parse(uri).fsPath;
      const out = output();
      out.show(true);
      out.appendLine(`$ promo test -v --filter ${id} ${file}`);
      cp.execFile(command, ['test', '-v', '--filter', id, file], (err, stdout, stderr) => {
        out.append(stdout + stderr);
      });
    }),
    vscode.languages.registerDocumentFormattingEditProvider(sel, {
      async provideDocumentFormattingEdits(doc) {
        const edits = await client.request('textDocument/formatting',
          { textDocument: { uri: doc.uri.toString() }, options: {} });
        return (edits || []).map((e) => vscode.TextEdit.replace(range(e.range), e.newText));
      },
    }));
}

async function deactivate() {
  if (!server) return;
  try {
    await server.request('shutdown', null);
    server.notify('exit', null);
  } catch (e) { /* the server is gone already */ }
  server = null;
}

module.exports = { activate, deactivate, Client };
