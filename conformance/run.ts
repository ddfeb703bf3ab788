// `npm run conformance`: drives the real S3 clients (aws-cli v2 and v1,
// rclone, s3cmd, boto3, AWS SDK for JavaScript v3) against one live aerostore.
//
//   npm run conformance                      # every scenario
//   npm run conformance -- --only aws-cli,rclone
//   npm run conformance -- --keep            # keep temp files and server data for a post-mortem
//   npm run conformance -- --endpoint http://127.0.0.1:9000 --access-key K --secret-key S
//                                            # against a server that is already running (e.g. `npm start`)
//
// Each scenario runs in its own bucket; the first failing step ends that
// scenario and is printed with the command it ran and its output. The last
// line is `N passed, N failed`; the exit status is 1 if any failed.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { awsCliScenario } from './aws-cli.ts';
import { awsCliV1Scenario } from './aws-cli-v1.ts';
import { boto3Scenario } from './boto3.ts';
import { CheckFailed, CommandError, randomFile, takeTranscript, truncate, type Scenario, type ScenarioContext, type ServerInfo, type Transcript } from './lib.ts';
import { PRINCIPAL_SCENARIOS, conformanceJwtSecret } from './principals.ts';
import { rcloneScenario } from './rclone.ts';
import { s3cmdScenario } from './s3cmd.ts';
import { storageJsScenario } from './storage-js.ts';
import { sdkJsScenario } from './sdk-js.ts';
import { VERSIONING_SCENARIOS } from './versioning.ts';

const SCENARIOS: Scenario[] = [awsCliScenario, awsCliV1Scenario, rcloneScenario, s3cmdScenario, boto3Scenario, sdkJsScenario, ...PRINCIPAL_SCENARIOS, storageJsScenario, ...VERSIONING_SCENARIOS];

const SMALL_SIZE = 5 * 1024 + 123; // a few KiB, deliberately not a multiple of anything
const BIG_SIZE = 50 * 1024 * 1024;
/** A step that takes longer than this fails (a hung request must not stall the suite). */
const STEP_TIMEOUT_MS = 150_000;

interface Args {
  only?: Set<string>;
  keep: boolean;
  endpoint?: string;
  accessKey?: string;
  secretKey?: string;
}

function parseArgs(argv: string[]): Args {
  let only: Set<string> | undefined;
  let keep = false;
  const ext: Pick<Args, 'endpoint' | 'accessKey' | 'secretKey'> = {};
  const value = (i: number, name: string) => {
    const v = argv[i];
    if (!v) throw new Error(`${name} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--keep') keep = true;
    else if (a === '--endpoint') ext.endpoint = value(++i, a).replace(/\/+$/, '');
    else if (a === '--access-key') ext.accessKey = value(++i, a);
    else if (a === '--secret-key') ext.secretKey = value(++i, a);
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!v) throw new Error('--only needs a comma-separated list of scenarios');
      only = new Set(v.split(',').map((s) => s.trim()).filter(Boolean));
    } else if (a === '--help' || a === '-h') {
      console.log(
        `usage: npm run conformance -- [--only ${SCENARIOS.map((s) => s.name).join(',')}] [--keep] [--endpoint URL --access-key K --secret-key S]`,
      );
      process.exit(0);
    } else throw new Error(`unknown argument: ${a}`);
  }
  if (only) {
    const known = new Set(SCENARIOS.map((s) => s.name));
    const unknown = [...only].filter((n) => !known.has(n));
    if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  }
  if (ext.endpoint && !(ext.accessKey && ext.secretKey)) throw new Error('--endpoint needs --access-key and --secret-key');
  return { only, keep, ...ext };
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function indent(s: string, pad = '      '): string {
  return s.replace(/\n$/, '').split('\n').map((l) => pad + l).join('\n');
}

function printFailure(err: unknown, transcript: Transcript | undefined): void {
  if (err instanceof CommandError) {
    transcript = { command: err.command, code: err.result.code, signal: err.result.signal, stdout: err.result.stdout, stderr: err.result.stderr };
    console.log(`    error: ${err.message}`);
  } else if (err instanceof CheckFailed) {
    console.log(`    check failed: ${indent(err.message, '      ').trimStart()}`);
  } else {
    const e = err as Error;
    console.log(`    error: ${indent(e?.stack ?? String(err), '      ').trimStart()}`);
  }
  if (transcript) {
    console.log(`    last command: ${transcript.command}`);
    if (transcript.code !== undefined || transcript.signal) console.log(`    exit: ${transcript.code ?? transcript.signal}`);
    if (transcript.detail) console.log(`    detail:\n${indent(truncate(transcript.detail))}`);
    if (transcript.stdout) console.log(`    stdout:\n${indent(truncate(transcript.stdout))}`);
    if (transcript.stderr) console.log(`    stderr:\n${indent(truncate(transcript.stderr))}`);
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const { only, keep } = args;
  const selected = SCENARIOS.filter((s) => !only || only.has(s.name));
  const t0 = Date.now();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'aerostore-conformance-'));
  let server: TestServer | undefined;
  let passed = 0;
  let failed = 0;
  const summary: string[] = [];
  try {
    console.log(`conformance: ${selected.map((s) => s.name).join(', ')}`);
    console.log(`temp dir ${tmp}`);
    const shared = path.join(tmp, 'shared');
    const [small, big] = await Promise.all([
      randomFile(path.join(shared, 'small.bin'), SMALL_SIZE),
      randomFile(path.join(shared, 'big.bin'), BIG_SIZE),
    ]);
    let info: ServerInfo;
    if (args.endpoint) {
      info = { url: args.endpoint, accessKeyId: args.accessKey!, secretAccessKey: args.secretKey!, region: 'us-east-1' };
      console.log(`server ${info.url} (already running)`);
    } else {
      const ts = Date.now();
      // The principal scenarios mint JWTs with this secret.
      server = await startTestServer({ env: { AEROSTORE_JWT_SECRET: conformanceJwtSecret() } });
      const srv = server;
      // Ctrl-C: stop the server we started (by its handle) before leaving.
      process.once('SIGINT', () => {
        console.log('\ninterrupted: stopping the server');
        void srv.stop().finally(() => process.exit(130));
      });
      console.log(`server ${server.url} started in ${secs(Date.now() - ts)} (data ${server.dataDir})`);
      info = { url: server.url, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, region: 'us-east-1', dataDir: server.dataDir };
    }
    const runId = Date.now().toString(36);

    for (const scenario of selected) {
      const started = Date.now();
      console.log(`\n== ${scenario.name}`);
      const skip = await scenario.unavailable?.();
      if (skip) {
        // A client that is not installed is a failure, not a silent pass.
        failed++;
        console.log(`FAIL ${scenario.name}: client not available: ${skip}`);
        summary.push(`FAIL ${scenario.name} (client not available)`);
        continue;
      }
      const work = path.join(tmp, scenario.name);
      await mkdir(work, { recursive: true });
      let currentStep = '(setup)';
      let stepNo = 0;
      const ctx: ScenarioContext = {
        server: info,
        bucket: `conf-${scenario.name.replace(/[^a-z0-9-]/g, '')}-${runId}`,
        work,
        small,
        big,
        async step(name, fn) {
          currentStep = name;
          stepNo++;
          const s = Date.now();
          takeTranscript();
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`step timed out after ${STEP_TIMEOUT_MS / 1000} s`)), STEP_TIMEOUT_MS);
          });
          const out = await Promise.race([fn(), timeout]).finally(() => clearTimeout(timer));
          console.log(`  ok ${String(stepNo).padStart(2)}  ${name}  (${Date.now() - s} ms)`);
          return out;
        },
        note(msg) {
          console.log(`         ${msg}`);
        },
      };
      try {
        await scenario.run(ctx);
        passed++;
        console.log(`PASS ${scenario.name} (${secs(Date.now() - started)})`);
        summary.push(`PASS ${scenario.name} (${secs(Date.now() - started)})`);
      } catch (err) {
        failed++;
        const transcript = takeTranscript();
        console.log(`  FAILED step ${stepNo}: ${currentStep}`);
        printFailure(err, transcript);
        console.log(`FAIL ${scenario.name} at step ${stepNo} "${currentStep}" (${secs(Date.now() - started)})`);
        summary.push(`FAIL ${scenario.name} at step ${stepNo} "${currentStep}"`);
      } finally {
        if (!keep) await rm(work, { recursive: true, force: true });
      }
    }
  } catch (err) {
    failed++;
    console.log(`\nFAIL harness: ${(err as Error)?.stack ?? err}`);
    summary.push('FAIL harness');
  } finally {
    if (server) {
      if (failed > 0) {
        const log = server.log();
        const errors = log.split('\n').filter((l) => /"level":(50|60)/.test(l));
        if (errors.length) console.log(`\nserver error log lines (${errors.length}):\n${indent(truncate(errors.join('\n'), 8000), '  ')}`);
      }
      await server.stop({ keepData: keep });
      if (keep) {
        await writeFile(path.join(tmp, 'server.log'), server.log());
        console.log(`server data kept in ${server.dataDir}, its log in ${path.join(tmp, 'server.log')}`);
      }
    }
    if (!keep) await rm(tmp, { recursive: true, force: true });
    else console.log(`temp files kept in ${tmp}`);
  }
  console.log(`\n${summary.join('\n')}`);
  console.log(`total ${secs(Date.now() - t0)}`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`conformance: ${(err as Error)?.message ?? err}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
