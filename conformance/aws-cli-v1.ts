// aws-cli v1 (pip's `awscli`, the `aws` many distributions and CI images
// still ship; Debian's /usr/bin/aws is v2 and is the aws-cli scenario's):
// Signature Version 2 as it sends it. `aws s3 presign` makes an
// AWSAccessKeyId / Expires / Signature URL unless told s3v4, fetched here
// with curl; with `signature_version = s3` every s3api call is signed
// `Authorization: AWS`. Skipped when the `aws` on PATH is not a v1.
// (`aws s3 ls` is not used with SigV2: botocore signs a path-style
// ListObjectsV2 over `?list-type=2`, which S3 refuses too — boto/boto3#4433.)
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { ODD_KEY, WEIRD_KEY, assert, assertEqual, assertSameFile, clientEnv, listKeyBody, run, runOk, writeAwsConfig, writeFileDeep, type Scenario } from './lib.ts';

const AWS_V1 = 'aws';

export const awsCliV1Scenario: Scenario = {
  name: 'aws-cli-v1',
  async unavailable() {
    const r = await run(AWS_V1, ['--version']).catch(() => undefined);
    const version = `${r?.stdout ?? ''}${r?.stderr ?? ''}`.trim();
    if (r?.code !== 0) return 'no aws on PATH (pip install awscli for aws-cli v1)';
    return /^aws-cli\/1\./.test(version) ? undefined : `the aws on PATH is not aws-cli v1 (${version.split(' ')[0]}): pip install awscli`;
  },
  async run(ctx) {
    const { bucket, work, small, server } = ctx;
    // The default config (presign: SigV2), and one with every S3 call in SigV2.
    const defaults = await writeAwsConfig(work, server);
    const legacyDir = path.join(work, 'sigv2');
    const legacy = await writeAwsConfig(legacyDir, server);
    await writeFileDeep(legacy.AWS_CONFIG_FILE, (await readFile(legacy.AWS_CONFIG_FILE, 'utf8')).replace('s3 =\n', 's3 =\n  signature_version = s3\n'));
    const home = path.join(work, 'home');
    const aws = (env: Record<string, string>, ...args: string[]) => runOk(AWS_V1, ['--endpoint-url', server.url, ...args], { env: clientEnv(home, env), cwd: work });
    const v2 = (...args: string[]) => aws(legacy, ...args);
    const s3url = (key = '') => `s3://${bucket}/${key}`;

    await ctx.step('aws --version is aws-cli v1', async () => {
      const r = await run(AWS_V1, ['--version']);
      ctx.note((r.stdout.trim() || r.stderr.trim()).split('\n')[0]);
    });

    await ctx.step('signature_version = s3: s3api create-bucket, put-object (metadata, content type), head-object, list-objects', async () => {
      await v2('s3api', 'create-bucket', '--bucket', bucket);
      await v2('s3api', 'put-object', '--bucket', bucket, '--key', 'blobs/small.bin', '--body', small.path, '--metadata', 'signed=v2', '--content-type', 'application/x-legacy');
      for (const key of [WEIRD_KEY, ODD_KEY]) {
        const file = path.join(work, 'key.txt');
        await writeFileDeep(file, listKeyBody(key));
        await v2('s3api', 'put-object', '--bucket', bucket, '--key', key, '--body', file);
      }
      const head = JSON.parse((await v2('s3api', 'head-object', '--bucket', bucket, '--key', 'blobs/small.bin')).stdout) as Record<string, unknown>;
      assertEqual(head.Metadata, { signed: 'v2' }, 'Metadata');
      assertEqual(head.ContentType, 'application/x-legacy', 'ContentType');
      const list = JSON.parse((await v2('s3api', 'list-objects', '--bucket', bucket)).stdout) as { Contents: Array<{ Key: string }> };
      assertEqual(list.Contents.map((o) => o.Key).sort(), ['blobs/small.bin', ODD_KEY, WEIRD_KEY].sort(), 'list-objects');
    });

    await ctx.step('aws s3 presign (SigV2 by default in v1), fetched with curl: plain, space/+/unicode and odd-character keys; tampered 403', async () => {
      const out = path.join(work, 'presign.out');
      const curl = (url: string) => runOk('curl', ['--silent', '--show-error', '--globoff', '--output', out, '--write-out', '%{http_code}', url]);
      for (const key of ['blobs/small.bin', WEIRD_KEY, ODD_KEY]) {
        const url = (await aws(defaults, 's3', 'presign', s3url(key), '--expires-in', '300')).stdout.trim();
        assert(/[?&]AWSAccessKeyId=/.test(url) && /[?&]Signature=/.test(url) && /[?&]Expires=\d+/.test(url), `not a SigV2 presigned URL: ${url}`);
        assertEqual((await curl(url)).stdout, '200', `curl ${url}`);
        if (key === 'blobs/small.bin') await assertSameFile(out, small);
        else assertEqual(await readFile(out, 'utf8'), listKeyBody(key), `body of ${key}`);
      }
      const url = (await aws(defaults, 's3', 'presign', s3url('blobs/small.bin'), '--expires-in', '300')).stdout.trim();
      assertEqual((await curl(url.replace('/blobs/small.bin', '/blobs/other.bin'))).stdout, '403', 'the URL on another key');
      await rm(out, { force: true });
    });

    await ctx.step('signature_version = s3: s3api delete-object every key, delete-bucket', async () => {
      for (const key of ['blobs/small.bin', WEIRD_KEY, ODD_KEY]) await v2('s3api', 'delete-object', '--bucket', bucket, '--key', key);
      await v2('s3api', 'delete-bucket', '--bucket', bucket);
    });
  },
};
