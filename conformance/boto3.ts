// boto3 (Debian's python3-boto3, run by /usr/bin/python3 explicitly: the
// python3 on PATH may be a pyenv one without boto3). The steps live in
// boto3_scenario.py; this file runs it and turns its "::step" / "::ok" lines
// into the runner's steps.
import { access } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckFailed, ALL_KEYS, DIR_LISTING, LIST_KEYS, ODD_KEY, ROOT_LISTING, WEIRD_KEY, clientEnv, recordTranscript, run, shellQuote, type Scenario } from './lib.ts';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'boto3_scenario.py');

export const boto3Scenario: Scenario = {
  name: 'boto3',
  async unavailable() {
    try {
      await access(PYTHON);
    } catch {
      return `${PYTHON} is missing`;
    }
    const r = await run(PYTHON, ['-c', 'import boto3']);
    return r.code === 0 ? undefined : 'boto3 is missing: apt-get install -y python3-boto3';
  },
  async run(ctx) {
    const { bucket, work, small, big, server } = ctx;
    const args = {
      ...server,
      bucket,
      work,
      small,
      big,
      listKeys: LIST_KEYS,
      weirdKey: WEIRD_KEY,
      oddKey: ODD_KEY,
      allKeys: ALL_KEYS,
      rootListing: ROOT_LISTING,
      dirListing: DIR_LISTING,
    };
    const env = clientEnv(path.join(work, 'home'));
    let result: Awaited<ReturnType<typeof run>> | undefined;
    await ctx.step(`run ${path.basename(SCRIPT)}`, async () => {
      // Under the runner's step timeout, so that a hang ends here with the script's output.
      result = await run(PYTHON, [SCRIPT, JSON.stringify(args)], { env, cwd: work, timeoutMs: 140_000 });
    });
    const r = result!;
    const command = shellQuote([PYTHON, SCRIPT, '<args json>']);
    for (const line of r.stdout.split('\n')) {
      const ok = /^::ok (.*) (\d+)$/.exec(line);
      if (ok) {
        await ctx.step(`${ok[1]}  [${ok[2]} ms in python]`, async () => undefined);
        continue;
      }
      const note = /^::note (.*)$/.exec(line);
      if (note) {
        ctx.note(note[1]);
        continue;
      }
      const failed = /^::failed (.*)$/.exec(line);
      if (failed) {
        await ctx.step(failed[1], async () => {
          // The steps are already printed above: keep only stray output.
          const stdout = r.stdout.split('\n').filter((l) => !l.startsWith('::')).join('\n');
          recordTranscript({ command, code: r.code, stdout, stderr: r.stderr });
          throw new CheckFailed(`boto3 step failed (traceback and last request in stderr below): ${failed[1]}`);
        });
      }
    }
    if (r.code !== 0) {
      await ctx.step('boto3 script exit status', async () => {
        recordTranscript({ command, code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr });
        throw new Error(`${path.basename(SCRIPT)} exited with ${r.code ?? r.signal}`);
      });
    }
  },
};
