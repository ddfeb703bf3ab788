// A small time-boxed fuzzing harness on fast-check (property-based testing
// with shrinking), used instead of a coverage-guided fuzzer: @jazzer.js/core
// 4.0.0 ships a native addon built against glibc 2.38 (Debian 12 has 2.36),
// and its older releases download their addon from GitHub at install time,
// which these machines cannot reach.
//
// Inputs are seeds from fuzz/corpus/<target>/ (plus seeds a target builds in
// code), mutated the way byte-level fuzzers mutate: bit flips, interesting
// bytes, dictionary tokens, deletions, duplications (for size and depth
// blow-ups) and truncations; plus purely random bytes. Each property is run
// for its share of FUZZ_SECONDS; FUZZ_SEED replays a run.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { asS3Error } from '../src/s3/errors.ts';

export const FUZZ_DIR = path.dirname(fileURLToPath(import.meta.url));

/** The seed files of fuzz/corpus/<target>/. */
export function corpus(target: string): Buffer[] {
  const dir = path.join(FUZZ_DIR, 'corpus', target);
  return readdirSync(dir)
    .sort()
    .map((f) => readFileSync(path.join(dir, f)));
}

type Edit =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number; times: number }
  | { kind: 'truncate'; at: number };

/** Bytes parsers of text protocols treat specially. */
const INTERESTING = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x25, 0x26, 0x2b, 0x2c, 0x2f, 0x30, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x5c, 0x66, 0x7f, 0x80, 0xc0, 0xed, 0xef, 0xff];

function apply(seed: Buffer, edits: Edit[]): Buffer {
  let b = Buffer.from(seed);
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % (b.length + 1);
    switch (e.kind) {
      case 'flip':
        if (at < b.length) b[at] ^= 1 << e.bit;
        break;
      case 'set':
        if (at < b.length) b[at] = e.byte;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), e.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.length)]);
        break;
      case 'duplicate': {
        const piece = b.subarray(at, at + e.length);
        b = Buffer.concat([b.subarray(0, at), ...Array.from({ length: e.times }, () => piece), b.subarray(at)]);
        break;
      }
      case 'truncate':
        b = b.subarray(0, at);
        break;
    }
  }
  return b;
}

/** Seeds with byte-level mutations; `dictionary` tokens are inserted whole. */
export function mutated(seeds: Buffer[], dictionary: string[] = [], maxEdits = 6): fc.Arbitrary<Buffer> {
  const token = dictionary.length ? fc.constantFrom(...dictionary).map((s) => new Uint8Array(Buffer.from(s, 'latin1'))) : fc.uint8Array({ maxLength: 8 });
  const edit: fc.Arbitrary<Edit> = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(...INTERESTING) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.oneof(token, fc.uint8Array({ maxLength: 16 })) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }), times: fc.integer({ min: 1, max: 400 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  );
  return fc.record({ seed: fc.constantFrom(...seeds), edits: fc.array(edit, { minLength: 1, maxLength: maxEdits }) }).map(({ seed, edits }) => apply(seed, edits));
}

/** Mostly mutated seeds, sometimes the seeds as they are, sometimes random bytes. */
export function fuzzInput(seeds: Buffer[], dictionary: string[] = []): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 12, arbitrary: mutated(seeds, dictionary) },
    { weight: 1, arbitrary: fc.constantFrom(...seeds) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)) },
  );
}

/**
 * The one kind of failure a protocol parser may report: an answer to the
 * client — an S3Error, or a DomainError S3 words as one (s3/errors.ts
 * asS3Error) — with one of `codes` on the S3 wire.
 */
export function expectS3Error(err: unknown, codes: readonly string[], input: unknown): void {
  const answer = asS3Error(err);
  if (!answer) {
    throw new Error(`threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} (not an answer to the client) for ${preview(input)}`, { cause: err });
  }
  if (!codes.includes(answer.code)) throw new Error(`${answer.code} is not one of ${codes.join(', ')} for ${preview(input)}`);
}

export function preview(input: unknown): string {
  const s = Buffer.isBuffer(input) ? JSON.stringify(input.toString('latin1')) : JSON.stringify(input);
  return s && s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : String(s);
}

/** Time one synchronous call; slower than `limitMs` is a failure (super-linear work on hostile input). */
export function bounded<T>(limitMs: number, what: string, f: () => T): T {
  const started = performance.now();
  try {
    return f();
  } finally {
    const took = performance.now() - started;
    if (took > limitMs) throw new Error(`${what} took ${took.toFixed(0)} ms (limit ${limitMs} ms)`);
  }
}

export interface FuzzProperty {
  name: string;
  property: fc.IRawProperty<unknown>;
  /** Share of the target's time (default 1). */
  weight?: number;
}

/**
 * Runs each property for its share of FUZZ_SECONDS (default 25) and exits
 * non-zero on the first failure, writing the shrunk counterexample under
 * fuzz/crashes/.
 */
export async function runFuzz(target: string, properties: FuzzProperty[]): Promise<void> {
  const seconds = Number(process.env.FUZZ_SECONDS ?? 25);
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
  const total = properties.reduce((n, p) => n + (p.weight ?? 1), 0);
  console.log(`fuzz ${target}: ${seconds} s, seed ${seed} (FUZZ_SEED=${seed} replays it)`);
  for (const p of properties) {
    const ms = Math.max(1000, Math.floor((seconds * 1000 * (p.weight ?? 1)) / total));
    const started = Date.now();
    const details = await fc.check(p.property, {
      seed,
      numRuns: Number.MAX_SAFE_INTEGER,
      interruptAfterTimeLimit: ms,
      markInterruptAsFailure: false,
      // An async run slower than this is a hang.
      timeout: 10_000,
    });
    const rate = Math.round(details.numRuns / ((Date.now() - started) / 1000));
    if (details.failed) {
      const dir = path.join(FUZZ_DIR, 'crashes');
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${target}-${p.name.replace(/\W+/g, '-')}-${seed}.json`);
      writeFileSync(file, JSON.stringify({ target, property: p.name, seed, path: details.counterexamplePath, counterexample: details.counterexample }, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('latin1') : v), 2));
      console.error(`✖ ${target} / ${p.name}: failed after ${details.numRuns} runs (seed ${seed}, path ${details.counterexamplePath})`);
      console.error(`  counterexample: ${preview(details.counterexample)}`);
      console.error(`  ${details.errorInstance instanceof Error ? details.errorInstance.stack : String(details.errorInstance)}`);
      console.error(`  saved to ${path.relative(process.cwd(), file)}`);
      process.exit(1);
    }
    console.log(`✔ ${target} / ${p.name}: ${details.numRuns} runs (${rate}/s)`);
  }
}
