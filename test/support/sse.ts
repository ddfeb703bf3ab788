// A Server-Sent Events client for tests: fetch with a streamed body, parsed
// by the spec's rules (fields id/event/data, blank line ends an event,
// comment lines ignored). `next()` waits for the next event with a timeout;
// `none()` asserts that none arrives within a time.
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export interface SseStream {
  status: number;
  next(timeoutMs?: number): Promise<SseEvent>;
  /** Resolves to the events that arrived within `ms` (none expected, usually). */
  drain(ms: number): Promise<SseEvent[]>;
  close(): void;
}

export async function openEventStream(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const queue: SseEvent[] = [];
  const waiters: Array<() => void> = [];
  let ended = false;
  const pump = async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    let current: SseEvent = { event: 'message', data: '' };
    let dataLines: string[] = [];
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (dataLines.length > 0) {
              queue.push({ ...current, data: dataLines.join('\n') });
              waiters.splice(0).forEach((w) => w());
            }
            current = { event: 'message', data: '' };
            dataLines = [];
          } else if (!line.startsWith(':')) {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'data') dataLines.push(value);
            else if (field === 'id') current.id = value;
            else if (field === 'event') current.event = value;
          }
        }
      }
    } catch {
      // aborted by close()
    } finally {
      ended = true;
      waiters.splice(0).forEach((w) => w());
    }
  };
  void pump();
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  return {
    status: res.status,
    async next(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (queue.length === 0) {
        if (ended) throw new Error('event stream ended');
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
        await wait(left);
      }
      return queue.shift() as SseEvent;
    },
    async drain(ms) {
      await new Promise((r) => setTimeout(r, ms));
      return queue.splice(0);
    },
    close: () => controller.abort(),
  };
}
