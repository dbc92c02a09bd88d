// A named window as a Grafana region annotation, through Grafana's HTTP API: POST /api/annotations at start
// (time), PATCH /api/annotations/:id at stop (timeEnd). Only the request shapes of Grafana's documented API;
// checked here against a local server that records them, not against a running Grafana.
export interface GrafanaTarget {
  url: string;
  token: string;
  timeoutMs: number;
}

export const ANNOTATION_TAGS = ['gpufleet', 'benchmark-window'];

async function send(t: GrafanaTarget, method: string, path: string, body: unknown): Promise<unknown> {
  const url = `${t.url.replace(/\/+$/, '')}${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(t.timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    throw new Error(`cannot reach Grafana at ${t.url}: ${e.cause?.code ?? e.message}`);
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`Grafana ${method} ${path} answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`Grafana ${method} ${path} answered something that is not JSON`);
  }
}

/** Creates the annotation at the window's start; its id. */
export async function annotateStart(t: GrafanaTarget, name: string, startMs: number): Promise<number> {
  const body = { time: startMs, tags: [...ANNOTATION_TAGS, `window:${name}`], text: `gpufleet-report window ${name}` };
  const answer = (await send(t, 'POST', '/api/annotations', body)) as { id?: unknown };
  if (typeof answer?.id !== 'number') throw new Error('Grafana created the annotation but sent no id');
  return answer.id;
}

/** Turns the annotation into a region ending at the window's stop. */
export async function annotateStop(t: GrafanaTarget, id: number, startMs: number, endMs: number): Promise<void> {
  await send(t, 'PATCH', `/api/annotations/${id}`, { time: startMs, timeEnd: endMs });
}
