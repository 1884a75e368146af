/**
 * Encrypted payloads: a PayloadCodec with AES-256-GCM. Every payload syncline's workers and clients send
 * to Temporal (workflow and activity inputs and results, memos, update answers, the Web UI's summaries
 * and details) is stored encrypted, with the id of its key in its metadata. Keys come from the
 * environment; the first one encrypts, the others only decrypt, so a key is rotated by putting the new
 * one first and keeping the old ones until no history needs them:
 *
 *   SYNCLINE_CODEC_KEYS="k2:<base64 of 32 bytes>,k1:<base64 of 32 bytes>"
 *   SYNCLINE_CODEC_KEYS_FILE=/run/secrets/syncline-codec-keys   (same entries, one a line, # comments)
 *
 * A new key: `openssl rand -base64 32`. Search attributes are never encoded (Temporal indexes them).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Framing of the encrypted plaintext (room for another layout later). */
const FRAME_V1 = 1;

export interface CodecKey {
  id: string;
  key: Buffer;
}

/** A codec configuration that cannot be used: the message names the variable, never a key. */
export class CodecConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecConfigError';
  }
}

export class AesGcmCodec implements PayloadCodec {
  private readonly keys: Map<string, Buffer>;
  /** The key new payloads are encrypted with. */
  readonly currentKeyId: string;

  constructor(
    keys: CodecKey[],
    private readonly source = 'the codec',
  ) {
    if (keys.length === 0) throw new CodecConfigError(`${source}: no key given`);
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
    this.currentKeyId = keys[0]!.id;
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.currentKeyId)!;
    const id = Buffer.from(this.currentKeyId);
    return payloads.map((p) => {
      const iv = crypto.randomBytes(IV_BYTES);
      const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
      // The key id is authenticated too: a payload cannot be passed off as another key's.
      cipher.setAAD(id);
      const sealed = Buffer.concat([cipher.update(frame(p)), cipher.final()]);
      return {
        metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: id },
        data: Buffer.concat([iv, sealed, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      // Payloads written before the codec was turned on are read as they are.
      if (text(p.metadata?.encoding) !== ENCRYPTED_ENCODING) return p;
      const id = text(p.metadata?.[KEY_ID_METADATA]) ?? '';
      const key = this.keys.get(id);
      if (!key) {
        throw new Error(
          `a payload is encrypted with key "${id}", which is not among the keys of ${this.source} (${this.keyIds.map((k) => `"${k}"`).join(', ')}): ` +
            `add it back after the current key; a key stays listed until no history needs it`,
        );
      }
      const data = Buffer.from(p.data ?? new Uint8Array());
      const decipher = crypto.createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(id));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new Error(
          `a payload encrypted with key "${id}" does not decrypt with the key of that id in ${this.source}: the key was changed, or the payload damaged`,
        );
      }
      return unframe(plain);
    });
  }
}

const text = (b: Uint8Array | null | undefined): string | undefined => (b ? Buffer.from(b).toString('utf8') : undefined);

/** version (1 byte) · metadata JSON length (4 bytes) · metadata JSON (values base64) · data. */
function frame(p: Payload): Buffer {
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) meta[k] = Buffer.from(v).toString('base64');
  const json = Buffer.from(JSON.stringify(meta));
  const head = Buffer.alloc(5);
  head.writeUInt8(FRAME_V1, 0);
  head.writeUInt32BE(json.length, 1);
  return Buffer.concat([head, json, Buffer.from(p.data ?? new Uint8Array())]);
}

function unframe(b: Buffer): Payload {
  if (b.readUInt8(0) !== FRAME_V1)
    throw new Error(`an encrypted payload has framing version ${b.readUInt8(0)}, which this syncline does not know: upgrade it`);
  const len = b.readUInt32BE(1);
  const meta = JSON.parse(b.subarray(5, 5 + len).toString('utf8')) as Record<string, string>;
  return { metadata: Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, Buffer.from(v, 'base64')])), data: b.subarray(5 + len) };
}

const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Reads "id:base64key" entries (commas or lines; # starts a comment). `source` names where they came from in messages. */
export function parseCodecKeys(textValue: string, source: string): CodecKey[] {
  const entries = textValue
    .split(/[\n,]/)
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean);
  if (entries.length === 0)
    throw new CodecConfigError(
      `${source} is set but holds no key: write "id:<base64 of 32 bytes>" entries, the current key first (a new key: openssl rand -base64 32)`,
    );
  const keys: CodecKey[] = [];
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon < 0 ? '' : entry.slice(0, colon).trim();
    const where = `${source}, entry ${i + 1}${KEY_ID.test(id) ? ` (key "${id}")` : ''}`;
    if (!KEY_ID.test(id)) throw new CodecConfigError(`${where}: write "id:<base64 key>" with an id of letters, digits, ".", "_" or "-"`);
    const b64 = entry.slice(colon + 1).trim();
    const key = Buffer.from(b64, 'base64');
    // Buffer.from ignores what is not base64: compare with the canonical form to catch typos and truncation.
    if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== b64.replace(/=+$/, '')) {
      throw new CodecConfigError(`${where}: the key is not 32 bytes in base64 (AES-256 takes 32 bytes: openssl rand -base64 32)`);
    }
    if (keys.some((k) => k.id === id)) throw new CodecConfigError(`${where}: key "${id}" is listed twice`);
    keys.push({ id, key });
  });
  return keys;
}

/**
 * The codec that SYNCLINE_CODEC_KEYS or SYNCLINE_CODEC_KEYS_FILE configure, or null when neither is set.
 * A variable that is set but unusable (empty, malformed, unreadable file) throws CodecConfigError: a worker
 * must not start writing readable payloads when encryption was asked for.
 */
export function codecFromEnvironment(env: NodeJS.ProcessEnv = process.env): AesGcmCodec | null {
  const inline = env.SYNCLINE_CODEC_KEYS;
  const file = env.SYNCLINE_CODEC_KEYS_FILE;
  if (inline !== undefined && file !== undefined) {
    throw new CodecConfigError('SYNCLINE_CODEC_KEYS and SYNCLINE_CODEC_KEYS_FILE are both set: keep one of them');
  }
  if (inline !== undefined) return new AesGcmCodec(parseCodecKeys(inline, 'SYNCLINE_CODEC_KEYS'), 'SYNCLINE_CODEC_KEYS');
  if (file === undefined) return null;
  const source = `SYNCLINE_CODEC_KEYS_FILE (${file})`;
  let content: string;
  try {
    content = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CodecConfigError(
      `${source} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): mount the key file there, or unset the variable to run without encryption`,
    );
  }
  return new AesGcmCodec(parseCodecKeys(content, source), source);
}

/** `dataConverter` with `codec` as its last (outermost) codec: encryption comes after any compression. */
export function withCodec(dataConverter: DataConverter | undefined, codec: PayloadCodec | null): DataConverter | undefined {
  if (!codec) return dataConverter;
  return { ...(dataConverter ?? {}), payloadCodecs: [...(dataConverter?.payloadCodecs ?? []), codec] };
}
