/** The AES-256-GCM payload codec: round trip, key ids, rotation, and configuration errors that name the variable, never the key. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  AesGcmCodec,
  CodecConfigError,
  codecFromEnvironment,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  parseCodecKeys,
} from '../../client/codec';
import { startCodecServer } from '../../client/codec-server';

const newKey = () => crypto.randomBytes(32).toString('base64');
const K1 = newKey();
const K2 = newKey();
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('utf8');
const summary = { activationId: 'contacts', sql: 'SELECT id, email FROM crm.contacts', ops: { upsert: { succeeded: 120 } } };

test('a payload comes back as it was; stored, it carries only its key id and ciphertext', async () => {
  const codec = codecFromEnvironment({ SYNCLINE_CODEC_KEYS: `k1:${K1}` })!;
  const plain = defaultPayloadConverter.toPayload(summary);
  const [sealed] = await codec.encode([plain]);
  expect(text(sealed!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
  expect(text(sealed!.metadata![KEY_ID_METADATA])).toBe('k1');
  expect(Object.keys(sealed!.metadata!).sort()).toEqual(['encoding', KEY_ID_METADATA].sort());
  expect(text(sealed!.data)).not.toContain('crm.contacts');
  expect(text(sealed!.data)).not.toContain('json/plain');
  const [back] = await codec.decode([sealed!]);
  expect(text(back!.metadata!.encoding)).toBe('json/plain');
  expect(defaultPayloadConverter.fromPayload(back!)).toEqual(summary);
  // A fresh IV each time: the same value never gives the same ciphertext.
  const [again] = await codec.encode([plain]);
  expect(Buffer.from(again!.data!).equals(Buffer.from(sealed!.data!))).toBe(false);
});

test('rotation: new payloads use the first key, payloads of an old key still decrypt', async () => {
  const before = codecFromEnvironment({ SYNCLINE_CODEC_KEYS: `k1:${K1}` })!;
  const [old] = await before.encode([defaultPayloadConverter.toPayload(summary)]);
  const rotated = codecFromEnvironment({ SYNCLINE_CODEC_KEYS: `k2:${K2},k1:${K1}` })!;
  expect(rotated.currentKeyId).toBe('k2');
  expect(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!)).toEqual(summary);
  const [fresh] = await rotated.encode([defaultPayloadConverter.toPayload(summary)]);
  expect(text(fresh!.metadata![KEY_ID_METADATA])).toBe('k2');
  // Once the old key is dropped, its payloads say which key they need.
  const dropped = codecFromEnvironment({ SYNCLINE_CODEC_KEYS: `k2:${K2}` })!;
  await expect(dropped.decode([old!])).rejects.toThrow(
    'a payload is encrypted with key "k1", which is not among the keys of SYNCLINE_CODEC_KEYS ("k2"): add it back after the current key',
  );
});

test('payloads written before the codec was on are read as they are', async () => {
  const codec = new AesGcmCodec([{ id: 'k1', key: Buffer.from(K1, 'base64') }]);
  const plain: Payload = defaultPayloadConverter.toPayload(summary);
  expect(await codec.decode([plain])).toEqual([plain]);
});

test('a damaged payload, or another key under the same id, is an error', async () => {
  const codec = codecFromEnvironment({ SYNCLINE_CODEC_KEYS: `k1:${K1}` })!;
  const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(summary)]);
  const damaged = Buffer.from(sealed!.data!);
  damaged[20] = damaged[20]! ^ 1;
  await expect(codec.decode([{ ...sealed!, data: damaged }])).rejects.toThrow('does not decrypt with the key of that id');
  const impostor = codecFromEnvironment({ SYNCLINE_CODEC_KEYS: `k1:${K2}` })!;
  await expect(impostor.decode([sealed!])).rejects.toThrow('a payload encrypted with key "k1" does not decrypt');
  // The key id is authenticated: relabelling a payload does not make another key read it.
  const both = codecFromEnvironment({ SYNCLINE_CODEC_KEYS: `k2:${K1},k1:${K1}` })!;
  await expect(both.decode([{ ...sealed!, metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } }])).rejects.toThrow(
    'does not decrypt',
  );
});

describe('configuration', () => {
  test('neither variable: no codec', () => {
    expect(codecFromEnvironment({})).toBeNull();
  });

  test.each([
    ['', 'SYNCLINE_CODEC_KEYS is set but holds no key'],
    [' , ', 'SYNCLINE_CODEC_KEYS is set but holds no key'],
    [`${K1}`, 'SYNCLINE_CODEC_KEYS, entry 1: write "id:<base64 key>"'],
    ['k1:c2hvcnQ=', 'SYNCLINE_CODEC_KEYS, entry 1 (key "k1"): the key is not 32 bytes in base64'],
    [`k1:${K1.slice(0, -4)}`, 'SYNCLINE_CODEC_KEYS, entry 1 (key "k1"): the key is not 32 bytes'],
    [`k1:${K1.slice(0, 10)}!${K1.slice(11)}`, 'SYNCLINE_CODEC_KEYS, entry 1 (key "k1"): the key is not 32 bytes'],
    [`k1:${K1},k1:${K2}`, 'SYNCLINE_CODEC_KEYS, entry 2 (key "k1"): key "k1" is listed twice'],
    [`bad id:${K1}`, 'SYNCLINE_CODEC_KEYS, entry 1: write "id:<base64 key>" with an id of letters'],
  ])('SYNCLINE_CODEC_KEYS=%j is refused: %s', (value, message) => {
    let err: unknown;
    try {
      codecFromEnvironment({ SYNCLINE_CODEC_KEYS: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CodecConfigError);
    expect((err as Error).message).toContain(message);
    expect((err as Error).message).not.toContain(K1.slice(0, 12));
  });

  test('a key file: entries one a line with comments; a missing file names the variable and the path', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codec-'));
    const file = path.join(dir, 'keys');
    fs.writeFileSync(file, `# current first\nk2:${K2}\n\nk1:${K1}  # retired 2026-11\n`);
    expect(codecFromEnvironment({ SYNCLINE_CODEC_KEYS_FILE: file })!.keyIds).toEqual(['k2', 'k1']);
    expect(() => codecFromEnvironment({ SYNCLINE_CODEC_KEYS_FILE: path.join(dir, 'nope') })).toThrow(
      `SYNCLINE_CODEC_KEYS_FILE (${path.join(dir, 'nope')}) cannot be read (ENOENT)`,
    );
    fs.writeFileSync(file, '# nothing yet\n');
    expect(() => codecFromEnvironment({ SYNCLINE_CODEC_KEYS_FILE: file })).toThrow(
      `SYNCLINE_CODEC_KEYS_FILE (${file}) is set but holds no key`,
    );
    expect(() => codecFromEnvironment({ SYNCLINE_CODEC_KEYS_FILE: file, SYNCLINE_CODEC_KEYS: `k1:${K1}` })).toThrow(
      'SYNCLINE_CODEC_KEYS and SYNCLINE_CODEC_KEYS_FILE are both set',
    );
    fs.rmSync(dir, { recursive: true });
  });

  test('parseCodecKeys keeps the order: the first key encrypts', () => {
    expect(parseCodecKeys(`a:${K1}, b:${K2}`, 'x').map((k) => k.id)).toEqual(['a', 'b']);
  });
});

test('the codec server decodes for the allowed origins only: a page of another origin (or a DNS-rebound name) gets nothing', async () => {
  const codec = codecFromEnvironment({ SYNCLINE_CODEC_KEYS: `k1:${K1}` })!;
  const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(summary)]);
  const body = JSON.stringify({
    payloads: [
      {
        metadata: Object.fromEntries(Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
        data: Buffer.from(sealed!.data!).toString('base64'),
      },
    ],
  });
  const server = await startCodecServer({ codec, port: 0, origins: ['http://localhost:8233'] });
  try {
    // A "simple" request (text/plain, no preflight): a browser sends it from any page, and a page whose own
    // name resolves to 127.0.0.1 (DNS rebinding) may even read the answer.
    const post = (headers: Record<string, string>) =>
      fetch(`${server.url}/decode`, { method: 'POST', headers: { 'content-type': 'text/plain', ...headers }, body });
    const evil = await post({ origin: 'http://evil.example:8888' });
    expect(evil.status).toBe(403);
    expect(await evil.text()).not.toContain('crm.contacts');
    const ui = await post({ origin: 'http://localhost:8233' });
    expect(ui.status).toBe(200);
    expect(Buffer.from(((await ui.json()) as { payloads: Array<{ data: string }> }).payloads[0]!.data, 'base64').toString()).toContain(
      'crm.contacts',
    );
    // The CLI sends no Origin.
    expect((await post({})).status).toBe(200);
  } finally {
    await server.close();
  }
});
