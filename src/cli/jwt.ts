// `aerostore jwt`: a signed JWT for a quick try (issue 19 §7) — the bearer
// token storage-js, curl or an STS AssumeRoleWithWebIdentity sends — signed
// with the server's AEROSTORE_JWT_SECRET (HS256), as an identity provider such
// as Supabase Auth would sign it. Prints the token alone, so that
// `JWT=$(npx aerostore jwt --sub …)` works. Needs no database.
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { processIo, runCommand, UsageError, type CliIo } from './command.ts';

export const JWT_USAGE = `usage:
  aerostore jwt [--sub <user id>] [--role authenticated|service_role|anon]
                [--expires-in <N>s|m|h|d] [--email <address>]

Prints a JWT signed with the server's AEROSTORE_JWT_SECRET (HS256, the
same secret the server verifies with: set it, at least 32 characters, in
both places; the server reads it when it starts, so restart it after
setting it). Send the token as "Authorization: Bearer <jwt>" on S3 and
/storage/v1 requests, or trade it for S3 credentials with STS.

--sub         the user's id, a uuid (default: a new one, printed on stderr)
--role        authenticated (default), service_role (every right: the
              root key's), or anon (nobody in particular)
--expires-in  how long it is valid (default 1h)
--email       an email claim, for policies that read auth.email()`;

const ROLES = ['authenticated', 'service_role', 'anon'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Invocation {
  sub?: string;
  role: (typeof ROLES)[number];
  expiresInSeconds: number;
  email?: string;
  configArgs: string[];
}

/** `90s`, `15m`, `1h`, `7d` → seconds. */
export function durationSeconds(text: string): number {
  const m = /^([1-9][0-9]{0,6})([smhd])$/.exec(text);
  if (!m) throw new UsageError(`--expires-in wants a duration such as 90s, 15m, 1h or 7d, not ${JSON.stringify(text)}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

function parseInvocation(argv: readonly string[]): Invocation {
  const inv: Invocation = { role: 'authenticated', expiresInSeconds: 3600, configArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(argv[i]);
    if (!m) throw new UsageError(`unexpected argument: ${argv[i]}`);
    const [, name, inline] = m;
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`--${name} needs a value`);
      return v;
    };
    if (name === 'sub') {
      const sub = value();
      if (!UUID.test(sub)) throw new UsageError(`--sub must be a uuid (the user's id), not ${JSON.stringify(sub)}`);
      inv.sub = sub.toLowerCase();
    } else if (name === 'role') {
      const role = value();
      if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
      inv.role = role as Invocation['role'];
    } else if (name === 'expires-in') inv.expiresInSeconds = durationSeconds(value());
    else if (name === 'email') inv.email = value();
    else {
      // A server setting with its value (--jwt-secret, …); loadConfig rejects what it does not know.
      inv.configArgs.push(argv[i]);
      if (inline === undefined && i + 1 < argv.length) inv.configArgs.push(argv[++i]);
    }
  }
  return inv;
}

/** Runs `aerostore jwt <argv...>`; resolves to the process exit code. */
export function runJwtCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  return runCommand(
    {
      name: 'jwt',
      usage: JWT_USAGE,
      needsArguments: false,
      parse: parseInvocation,
      async early(inv, { config }) {
        if (!config.jwtSecret) {
          io.err('aerostore jwt: AEROSTORE_JWT_SECRET is not set. Set it (at least 32 characters) here and for the server, then restart the server.');
          return 1;
        }
        const sub = inv.role === 'anon' ? undefined : (inv.sub ?? randomUUID());
        if (inv.sub === undefined && sub !== undefined) io.err(`sub: ${sub}`);
        const claims = { role: inv.role, ...(sub ? { sub } : {}), ...(inv.email ? { email: inv.email } : {}) };
        const token = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
          .setIssuedAt()
          .setExpirationTime(`${inv.expiresInSeconds}s`)
          .sign(new TextEncoder().encode(config.jwtSecret));
        io.out(token);
        return 0;
      },
      // Never reached: early() always ends the command.
      run: async () => 0,
    },
    argv,
    io,
  );
}
