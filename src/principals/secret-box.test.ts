import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MasterKey } from './master-key.ts';
import { SecretBox, SecretBoxError } from './secret-box.ts';

const box = new SecretBox(randomBytes(32));
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const ID = 'AKABCDEFGHIJKLMNOPQR';

/** The token with one byte of its decoded form flipped at `index` (negative: from the end). */
function flip(token: string, index: number): string {
  const raw = Buffer.from(token.slice(3), 'base64url');
  const at = index < 0 ? raw.length + index : index;
  raw[at] ^= 0x01;
  return 'v1.' + raw.toString('base64url');
}

describe('SecretBox', () => {
  it('round-trips, as one v1 text token of the documented size', () => {
    const token = box.seal(SECRET, ID);
    assert.match(token, /^v1\.[A-Za-z0-9_-]+$/);
    assert.equal(Buffer.from(token.slice(3), 'base64url').length, 12 + Buffer.byteLength(SECRET) + 16);
    assert.ok(!token.includes(SECRET));
    assert.equal(box.open(token, ID), SECRET);
    assert.equal(box.open(box.seal('', ID), ID), '');
    assert.equal(box.open(box.seal('ünïcode ✓', ID), ID), 'ünïcode ✓');
  });

  it('uses a fresh IV: the same secret seals to different tokens', () => {
    assert.notEqual(box.seal(SECRET, ID), box.seal(SECRET, ID));
  });

  it('refuses a tampered IV, ciphertext or tag', () => {
    const token = box.seal(SECRET, ID);
    for (const at of [0, 11, 12, 12 + 20, -17, -16, -1]) {
      assert.throws(() => box.open(flip(token, at), ID), SecretBoxError, `byte ${at}`);
    }
    assert.throws(() => box.open(token.slice(0, -4), ID), SecretBoxError);
  });

  it('refuses a token bound to another access key id (AAD)', () => {
    const token = box.seal(SECRET, ID);
    assert.throws(() => box.open(token, 'AKABCDEFGHIJKLMNOPQS'), SecretBoxError);
    assert.throws(() => box.open(token, ID.toLowerCase()), SecretBoxError);
    assert.throws(() => box.open(token, ''), SecretBoxError);
  });

  it('refuses a token sealed under another key', () => {
    const token = box.seal(SECRET, ID);
    assert.throws(() => new SecretBox(randomBytes(32)).open(token, ID), SecretBoxError);
    // Keys derived for different purposes from one master key do not open each other's tokens.
    const master = MasterKey.fromBase64(randomBytes(32).toString('base64'));
    const sealed = new SecretBox(master.derive('access-key-secrets')).seal(SECRET, ID);
    assert.throws(() => new SecretBox(master.derive('sts-session-tokens')).open(sealed, ID), SecretBoxError);
    assert.equal(new SecretBox(master.derive('access-key-secrets')).open(sealed, ID), SECRET);
  });

  it('refuses malformed tokens and keys of the wrong size', () => {
    assert.throws(() => box.open('v2.' + box.seal(SECRET, ID).slice(3), ID), SecretBoxError);
    assert.throws(() => box.open(SECRET, ID), SecretBoxError);
    assert.throws(() => box.open('v1.', ID), SecretBoxError);
    assert.throws(() => box.open('v1.AAAA', ID), SecretBoxError);
    assert.throws(() => new SecretBox(randomBytes(16)), /32-byte/);
  });
});
