// test_grammar.js — tokenizes .rule text with the TextMate grammar of editors/vscode
// (through vscode-textmate + vscode-oniguruma, the engine VS Code itself uses) and
// checks the scopes that themes colour: keywords, strings, money, percent, dates and
// times, comments, campaign and set names. Also checks the extension manifest and the
// language configuration, and that the whole rules/ catalog tokenizes cleanly.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const ROOT = path.resolve(__dirname, '..', '..');
const EXT = path.join(ROOT, 'editors', 'vscode');
const manifest = JSON.parse(fs.readFileSync(path.join(EXT, 'package.json'), 'utf8'));
const grammarPath = path.join(EXT, manifest.contributes.grammars[0].path);

let grammarPromise = null;
function loadGrammar() {
  if (grammarPromise) return grammarPromise;
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  const onigLib = oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength)).then(() => ({
    createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
    createOnigString: (s) => new oniguruma.OnigString(s),
  }));
  const registry = new vsctm.Registry({
    onigLib,
    loadGrammar: async (scopeName) => {
      if (scopeName !== 'source.promo') return null;
      const text = fs.readFileSync(grammarPath, 'utf8');
      return vsctm.parseRawGrammar(text, grammarPath);
    },
  });
  grammarPromise = registry.loadGrammar('source.promo');
  return grammarPromise;
}

// Tokenizes a whole text; returns one array of {text, scopes} per line.
async function tokenize(text) {
  const grammar = await loadGrammar();
  assert.ok(grammar, 'grammar source.promo loads');
  let stack = vsctm.INITIAL;
  const out = [];
  for (const line of text.split('\n')) {
    const r = grammar.tokenizeLine(line, stack);
    out.push(r.tokens.map((t) => ({
      text: line.slice(t.startIndex, t.endIndex),
      scopes: t.scopes,
    })));
    stack = r.ruleStack;
  }
  return out;
}

// The scopes of the n-th token that is exactly `word` on the first line of the text
// containing `where` (a substring of the source line).
function scopesAt(lines, where, word, n = 0) {
  const li = lines.findIndex((toks) => toks.map((t) => t.text).join('').includes(where));
  assert.ok(li >= 0, `no line contains ${JSON.stringify(where)}`);
  const hits = lines[li].filter((t) => t.text === word);
  assert.ok(hits.length > n, `token ${JSON.stringify(word)} #${n} not found on line ${li + 1}`);
  return hits[n].scopes;
}

function hasScope(scopes, name) {
  return scopes.includes(name);
}

function assertScope(lines, where, word, name, n = 0) {
  const s = scopesAt(lines, where, word, n);
  assert.ok(hasScope(s, name), `${JSON.stringify(word)} in ${JSON.stringify(where)}: expected ${name}, got ${s.join(' ')}`);
}

const SAMPLE = `# Dairy: 10% off from 500   (a comment, even with "quotes" and 10%)
set dairy = category "dairy" and not sku in ["1001", "a\\"b"]
group discounts, points

campaign dairy_10 "Dairy: 10% off # not a comment" {
    priority 100
    group    discounts
    combine  with points
    active   2026-06-01 .. 2026-08-31
    days     mon .. fri
    hours    22:00 .. 06:00, 9:00 .. 9:30
    stores   101, 102, region "msk"
    channel  pos
    when     customer.segment "pensioner" and sum(lines where dairy) >= 500
    when     history.visits(30 days) == 1 and payment != credit
    then     discount 10% on lines where dairy; price 89.90 on lines where sku "7"
    limit    1 per customer per day
    budget   100_000 partial
    stop

    example "pensioner buys 600 of dairy" {
        customer { id "c1" segments ["pensioner"] birthday 1950-06-07 }
        store 101  channel pos  time 2026-06-05T10:00
        line sku "1" category "dairy/milk" qty 1.5 price 300
        expect discount 60 on "1"   # 2 x 300 = 600; 10% = 60
        expect points 0
    }
}

campaign bundle_999 {
    then bundle 3 for 999 on lines where category "pet"; points 2.5% of paid activate in 14 days expire in 90 days
    then spend_limit 30% if total < 2000, 55%
}
`;

test('manifest: language, grammar and configuration are wired together', () => {
  const lang = manifest.contributes.languages[0];
  const gram = manifest.contributes.grammars[0];
  assert.deepEqual(lang.extensions, ['.rule']);
  assert.equal(gram.language, lang.id);
  assert.equal(gram.scopeName, 'source.promo');
  assert.ok(fs.existsSync(grammarPath), 'grammar file exists');
  assert.ok(fs.existsSync(path.join(EXT, lang.configuration)), 'language configuration exists');
  assert.ok(fs.existsSync(path.join(EXT, 'README.md')), 'README.md exists');
  const raw = JSON.parse(fs.readFileSync(grammarPath, 'utf8'));
  assert.equal(raw.scopeName, gram.scopeName);
});

test('language configuration: # comments, brackets, auto-closing, { } folding', () => {
  const conf = JSON.parse(fs.readFileSync(path.join(EXT, 'language-configuration.json'), 'utf8'));
  assert.equal(conf.comments.lineComment, '#');
  assert.deepEqual(conf.brackets, [['{', '}'], ['[', ']'], ['(', ')']]);
  const pairs = conf.autoClosingPairs.map((p) => p.open + p.close);
  for (const p of ['{}', '[]', '()', '""']) assert.ok(pairs.includes(p), `auto-closes ${p}`);
  const start = new RegExp(conf.folding.markers.start);
  const end = new RegExp(conf.folding.markers.end);
  assert.ok(start.test('campaign dairy_10 "Dairy" {'));
  assert.ok(start.test('    example "x" {   # trailing comment'));
  assert.ok(!start.test('    customer { id "c1" }'), 'a one-line block does not open a fold');
  assert.ok(end.test('    }'));
  assert.ok(!end.test('    line sku "1" qty 1 price 10'));
});

test('comments', async () => {
  const lines = await tokenize(SAMPLE);
  assert.ok(lines[0].every((t) => hasScope(t.scopes, 'comment.line.number-sign.promo')),
    'the whole first line is one comment, quotes and percent included');
  assertScope(lines, '# Dairy', '#', 'punctuation.definition.comment.promo');
  const trailing = lines.find((toks) => toks.some((t) => t.text.includes('2 x 300 = 600')));
  const c = trailing.find((t) => t.text.includes('2 x 300 = 600'));
  assert.ok(hasScope(c.scopes, 'comment.line.number-sign.promo'), 'trailing comment');
  assertScope(lines, 'expect discount 60', '60', 'constant.numeric.money.promo');
  // `#` inside a string is not a comment
  const title = lines[4].find((t) => t.text.includes('# not a comment'));
  assert.ok(hasScope(title.scopes, 'string.quoted.double.promo'));
  assert.ok(!hasScope(title.scopes, 'comment.line.number-sign.promo'));
});

test('keywords', async () => {
  const lines = await tokenize(SAMPLE);
  const control = {
    priority: 'priority 100', combine: 'combine  with', active: 'active ', days: 'days  ',
    hours: 'hours ', stores: 'stores ', channel: 'channel  pos', when: 'sum(lines',
    then: 'then     discount', limit: 'limit ', per: 'per customer', budget: 'budget ',
    partial: 'partial', stop: '    stop', example: 'example "', expect: 'expect points',
    where: 'where dairy)', if: 'if total',
  };
  for (const [w, where] of Object.entries(control))
    assertScope(lines, where, w, 'keyword.control.promo');
  const reward = {
    discount: 'then     discount', on: 'on lines where dairy;', price: 'price 89.90',
    bundle: 'bundle 3', points: 'points 2.5%', of: 'of paid', paid: 'of paid',
    activate: 'activate in', expire: 'expire in', spend_limit: 'spend_limit 30%',
  };
  for (const [w, where] of Object.entries(reward))
    assertScope(lines, where, w, 'keyword.other.reward.promo');
  assertScope(lines, 'sum(lines', 'and', 'keyword.operator.logical.promo');
  assertScope(lines, 'set dairy', 'not', 'keyword.operator.logical.promo');
  assertScope(lines, 'set dairy', 'in', 'keyword.operator.logical.promo');
  assertScope(lines, 'sum(lines', '>=', 'keyword.operator.comparison.promo');
  assertScope(lines, 'payment != credit', '!=', 'keyword.operator.comparison.promo');
  assertScope(lines, 'active ', '..', 'keyword.operator.range.promo');
  assertScope(lines, 'sum(lines', 'sum', 'support.function.aggregate.promo');
  assertScope(lines, 'history.visits', 'visits', 'support.function.history.promo');
  assertScope(lines, 'days     mon', 'mon', 'constant.language.promo');
  assertScope(lines, 'payment != credit', 'credit', 'constant.language.promo');
  assertScope(lines, 'channel  pos', 'pos', 'constant.language.promo');
  assertScope(lines, 'set dairy', 'category', 'support.variable.fact.promo');
  assertScope(lines, 'sum(lines', 'lines', 'variable.language.promo');
});

test('campaign, set and group names', async () => {
  const lines = await tokenize(SAMPLE);
  assertScope(lines, 'campaign dairy_10', 'campaign', 'storage.type.campaign.promo');
  assertScope(lines, 'campaign dairy_10', 'dairy_10', 'entity.name.function.campaign.promo');
  assertScope(lines, 'campaign bundle_999', 'bundle_999', 'entity.name.function.campaign.promo');
  assertScope(lines, 'set dairy', 'set', 'storage.type.set.promo');
  assertScope(lines, 'set dairy', 'dairy', 'entity.name.type.set.promo');
  assertScope(lines, 'group discounts, points', 'group', 'storage.type.group.promo');
  assertScope(lines, 'group discounts, points', 'discounts', 'entity.name.type.group.promo');
  assertScope(lines, 'group discounts, points', 'points', 'entity.name.type.group.promo');
  assertScope(lines, 'combine  with points', 'points', 'entity.name.type.group.promo');
  // a set used in a predicate is a plain name, not a declaration nor a string
  const use = scopesAt(lines, 'sum(lines where dairy)', 'dairy');
  assert.ok(hasScope(use, 'variable.other.promo'), use.join(' '));
});

test('strings and escapes', async () => {
  const lines = await tokenize(SAMPLE);
  assertScope(lines, 'set dairy', 'dairy', 'string.quoted.double.promo', 1);
  assertScope(lines, 'line sku "1"', 'dairy/milk', 'string.quoted.double.promo');
  assertScope(lines, 'example "', 'pensioner buys 600 of dairy', 'string.quoted.double.promo');
  assertScope(lines, 'set dairy', '\\"', 'constant.character.escape.promo');
  assertScope(lines, 'set dairy', '"', 'punctuation.definition.string.begin.promo');
});

test('money, numbers and percent', async () => {
  const lines = await tokenize(SAMPLE);
  assertScope(lines, 'price 89.90', '89.90', 'constant.numeric.money.promo');
  assertScope(lines, 'bundle 3 for 999', '999', 'constant.numeric.money.promo');
  assertScope(lines, 'budget ', '100_000', 'constant.numeric.money.promo');
  assertScope(lines, 'expect discount 60', '60', 'constant.numeric.money.promo');
  assertScope(lines, 'bundle 3 for 999', '3', 'constant.numeric.integer.promo');
  assertScope(lines, 'priority 100', '100', 'constant.numeric.integer.promo');
  assertScope(lines, 'qty 1.5', '1.5', 'constant.numeric.decimal.promo');
  const percents = [['discount 10%', '10'], ['points 2.5%', '2.5'], ['spend_limit 30%', '30'],
    ['spend_limit 30%', '55']];
  for (const [where, num] of percents) {
    assertScope(lines, where, num, 'constant.numeric.percent.promo');
    assertScope(lines, where, '%', 'punctuation.definition.percent.promo');
  }
  // 10% inside the title string stays part of the string
  const title = lines[4].find((t) => t.text.includes('10% off'));
  assert.ok(!hasScope(title.scopes, 'constant.numeric.percent.promo'));
  // durations: the number and its unit
  assertScope(lines, 'history.visits(30 days)', '30', 'constant.numeric.integer.promo');
  assertScope(lines, 'history.visits(30 days)', 'days', 'keyword.other.unit.promo');
  assertScope(lines, 'per customer per day', 'day', 'keyword.other.unit.promo');
});

test('dates and times', async () => {
  const lines = await tokenize(SAMPLE);
  assertScope(lines, 'active ', '2026-06-01', 'constant.other.date.promo');
  assertScope(lines, 'active ', '2026-08-31', 'constant.other.date.promo');
  assertScope(lines, 'birthday 1950', '1950-06-07', 'constant.other.date.promo');
  assertScope(lines, 'hours ', '22:00', 'constant.other.date.time.promo');
  assertScope(lines, 'hours ', '06:00', 'constant.other.date.time.promo');
  assertScope(lines, 'hours ', '9:00', 'constant.other.date.time.promo');
  assertScope(lines, 'time 2026', '2026-06-05T10:00', 'constant.other.date.datetime.promo');
  // all three share the constant.other.date prefix that themes colour
  for (const [where, d] of [['hours ', '22:00'], ['time 2026', '2026-06-05T10:00']])
    assert.ok(scopesAt(lines, where, d).some((s) => s.startsWith('constant.other.date.')));
});

function ruleFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...ruleFiles(p));
    else if (e.name.endsWith('.rule')) out.push(p);
  }
  return out.sort();
}

test('the rules/ catalog tokenizes with no unscoped or invalid token', async () => {
  const files = ruleFiles(path.join(ROOT, 'rules'));
  assert.ok(files.length >= 40, `catalog has ${files.length} files`);
  for (const f of files) {
    const lines = await tokenize(fs.readFileSync(f, 'utf8'));
    lines.forEach((toks, i) => {
      for (const t of toks) {
        if (!t.text.trim()) continue;
        const where = `${path.relative(ROOT, f)}:${i + 1}: ${JSON.stringify(t.text)}`;
        assert.ok(t.scopes.length > 1, `${where} has no scope`);
        assert.ok(!t.scopes.some((s) => s.startsWith('invalid')), `${where} is invalid`);
      }
    });
    // every campaign header names its campaign
    lines.forEach((toks) => {
      const i = toks.findIndex((t) => t.text === 'campaign');
      if (i >= 0 && toks[0].text === 'campaign')
        assert.ok(toks.some((t) => hasScope(t.scopes, 'entity.name.function.campaign.promo')));
    });
  }
});
