// Who is making a request. Every protocol edge maps its credentials to one of
// these; core and db decide what the principal may do.
export type Role = 'service' | 'authenticated';

export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'access-key'; accessKeyId: string; userId: string | null; role: Role };

export const ANONYMOUS: Principal = { kind: 'anonymous' };

export function ownerId(p: Principal): string | null {
  return p.kind === 'access-key' ? p.userId : null;
}
