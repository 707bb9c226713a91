// Every text of the client exists in both languages: no English string on the
// Vietnamese page (t() falls back to English for a missing Vietnamese key) and no key
// shown raw. Reads strings.js and the modules directly; no browser needed.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const WEB = resolve(import.meta.dirname, '..', '..', 'crates', 'duet', 'web', 'js');
const { STRINGS } = await import(pathToFileURL(join(WEB, 'strings.js')).href);

// Keys only the Vietnamese page needs: it says the server's (English) validation
// messages in its own words; the English page shows the server's messages as they are.
const VI_ONLY = /^invalid\./;

// Keys built at run time, from values the server or the code defines.
const DYNAMIC = [
  ...['ended_by_user', 'admin', 'banned', 'account_deleted', 'inactive', 'expired', 'abandoned', 'no_mutual_like', 'unknown'].map((r) => `reason.${r}`),
  ...['spam', 'harassment', 'underage', 'inappropriate', 'other'].map((r) => `report.${r}`),
];

function sources() {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.js') && entry.name !== 'strings.js') files.push(path);
    }
  };
  walk(WEB);
  return files.map((path) => readFileSync(path, 'utf8')).join('\n');
}

test('both languages have the same keys, and no text is empty', () => {
  const vi = Object.keys(STRINGS.vi).filter((k) => !VI_ONLY.test(k)).sort();
  const en = Object.keys(STRINGS.en).sort();
  assert.deepEqual(vi.filter((k) => !en.includes(k)), [], 'keys missing in English');
  assert.deepEqual(en.filter((k) => !vi.includes(k)), [], 'keys missing in Vietnamese');
  for (const lang of ['vi', 'en']) {
    for (const [key, text] of Object.entries(STRINGS[lang])) assert.ok(text.trim(), `${lang} ${key} is empty`);
  }
});

test('every key the code asks for exists in both languages, and every key is used', () => {
  const code = sources();
  // t('key'), and keys named as strings where a t() call takes them later
  // (step titles, field labels, the notice).
  const used = new Set(DYNAMIC);
  for (const m of code.matchAll(/['`]([a-z]+\.[a-zA-Z_]+)['`]/g)) if (m[1] in STRINGS.en || m[1] in STRINGS.vi) used.add(m[1]);
  for (const m of code.matchAll(/\bt\(\s*'([^']+)'/g)) used.add(m[1]);
  for (const key of used) {
    assert.ok(key in STRINGS.vi, `${key} is missing in Vietnamese`);
    if (!VI_ONLY.test(key)) assert.ok(key in STRINGS.en, `${key} is missing in English`);
  }
  // A key nobody asks for is dead text (error.* and invalid.* are looked up by code).
  const unused = Object.keys(STRINGS.en).filter((k) => !used.has(k) && !/^error\./.test(k));
  assert.deepEqual(unused, [], 'keys no code uses');
});

test('placeholders match between the languages', () => {
  const names = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  for (const key of Object.keys(STRINGS.en)) assert.deepEqual(names(STRINGS.vi[key]), names(STRINGS.en[key]), key);
});
