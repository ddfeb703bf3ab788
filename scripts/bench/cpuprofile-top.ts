// Summarises a V8 .cpuprofile (from `npm run bench -- --cpu-prof DIR`):
// where the server's CPU went, by package/file and by function, self and
// inclusive time, idle excluded.
//
//   node --import tsx scripts/bench/cpuprofile-top.ts DIR/CPU.*.cpuprofile [--top 25]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fmt, table } from './lib.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
if (positionals.length === 0) {
  console.error('usage: cpuprofile-top.ts FILE.cpuprofile [--top N]');
  process.exit(2);
}
const TOP = Number(values.top);

function where(url: string): string {
  if (url === '') return '(native/V8)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const src = /\/((?:src|scripts|test)\/.*)$/.exec(url);
  return src ? src[1] : url;
}

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));

  const bySelf = new Map<string, number>();
  const byWhere = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const key = `${name} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    bySelf.set(key, (bySelf.get(key) ?? 0) + us);
    const w = n.callFrame.url ? where(n.callFrame.url) : name.startsWith('(') ? name : '(native/V8)';
    byWhere.set(w, (byWhere.get(w) ?? 0) + us);
    // Inclusive: charge every distinct frame on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      const k = `${f.functionName || '(anonymous)'} ${where(f.url)}:${f.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${fmt((100 * us) / busy, 1)}%`;
  const ms = (us: number) => fmt(us / 1000);
  console.log(`\n${file}\nwall ${fmt((p.endTime - p.startTime) / 1e6, 1)} s, busy ${fmt(busy / 1e6, 2)} s, idle ${fmt(idle / 1e6, 2)} s\n`);
  const top = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  console.log(table(['package / file (self time)', 'ms', 'share'], top(byWhere).map(([k, v]) => [k, ms(v), pct(v)])));
  console.log();
  console.log(table(['function (self time)', 'ms', 'share'], top(bySelf).map(([k, v]) => [k, ms(v), pct(v)])));
  console.log();
  inclusive.delete('(root) (native/V8):0');
  console.log(table(['function (inclusive)', 'ms', 'share'], top(inclusive).map(([k, v]) => [k, ms(v), pct(v)])));
}
