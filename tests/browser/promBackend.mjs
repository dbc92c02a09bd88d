// The server half of Grafana's Prometheus data source, for the browser tests: what Grafana's backend
// (pkg/promlib, with dataplane frames, which is always on since Grafana 11) does with a
// POST /api/ds/query from `@grafana/prometheus`, written from its behaviour:
//   - each query's expr gets Grafana's built-in macros ($__interval, $__rate_interval, $__range, …);
//     template variables were already replaced in the browser by the data source's applyTemplateVariables;
//   - an instant query asks /api/v1/query at the range's end, a range query /api/v1/query_range with the
//     range aligned to the step; neither/both flags as Grafana reads them;
//   - the answer becomes one data frame per series: `Time` (its config.interval = the step in ms) and the
//     value field, named after `__name__` when the series has one (else `Value`), with the series' labels
//     and config.displayNameFromDS (the legend); frame meta type numeric-multi (vector, scalar) or
//     timeseries-multi (matrix), typeVersion [0, 1], custom.resultType; the first frame carries
//     executedQueryString. An empty answer is one frame with no fields. Prometheus' warnings and infos
//     become notices on every frame;
//   - a Prometheus error ("status": "error") is the query's error `<errorType>: <error>` with Prometheus'
//     HTTP status; a refused connection or a timeout an error with status 502;
//   - frames are written in Grafana's JSON wire format (schema + data; NaN and ±Inf as null with
//     `entities`), and the whole answer is 400 when any query failed.
// The Prometheus data source's own query building, variable interpolation, response parsing
// (toDataQueryResponse) and table transform (transformDFToTable) run unchanged in the browser.

/** Go's time.Duration.String() for whole milliseconds: 15s, 1m0s, 1h0m0s, 500ms. */
export function goDuration(ms) {
  if (ms === 0) {
    return '0s';
  }
  if (ms < 1000) {
    return `${ms}ms`;
  }
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const sec = `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')}s`;
  if (h > 0) {
    return `${h}h${m}m${sec}`;
  }
  return m > 0 ? `${m}m${sec}` : sec;
}

/** Grafana's gtime.FormatInterval: the largest whole unit (1d, 2h, 30s, 100ms). */
function formatInterval(ms) {
  const units = [
    ['y', 31_536_000_000],
    ['w', 604_800_000],
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  for (const [u, size] of units) {
    if (ms >= size && ms % size === 0) {
      return `${ms / size}${u}`;
    }
  }
  return ms >= 1000 ? `${Math.floor(ms / 1000)}s` : `${ms}ms`;
}

/** "15s", "1m", "2h", "500ms" → ms; undefined for anything else (a variable, empty). */
function parseInterval(text) {
  const m = /^(\d+)(ms|s|m|h|d|w|y)$/.exec(String(text ?? '').trim());
  if (!m) {
    return undefined;
  }
  const size = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 }[m[2]];
  return Number(m[1]) * size;
}

/** Nice step values Grafana's interval calculator rounds to (the common ones). */
const ROUNDED = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 20_000, 30_000, 60_000, 120_000, 300_000,
  600_000, 900_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000];
const roundInterval = (ms) => ROUNDED.find((r) => r >= ms) ?? ms;

/**
 * The step Grafana uses: the range over max data points, rounded, at least the query's min interval
 * (else the data source's scrape interval, else 15 s), at least range/11,000; $__rate_interval is
 * max(step + scrape, 4 × scrape).
 */
function stepOf(q, rangeMs, dsScrape) {
  const variableMin = /^\$\{?__(rate_)?interval(_ms)?\}?$/.test(String(q.interval ?? ''));
  const min = (!variableMin && parseInterval(q.interval)) || parseInterval(dsScrape) || 15_000;
  const calculated = Math.max(roundInterval(rangeMs / (q.maxDataPoints || 1100)), min);
  const safe = roundInterval(rangeMs / 11_000);
  const step = Math.max(calculated, safe) * (q.intervalFactor || 1);
  const scrape = parseInterval(dsScrape) || 15_000;
  return { step, rate: Math.max(step + scrape, 4 * scrape) };
}

export function interpolateMacros(expr, { step, rate, rangeMs }) {
  const rangeS = Math.round(rangeMs / 1000);
  const pairs = [
    ['__interval_ms', String(step)],
    ['__interval', formatInterval(step)],
    ['__range_ms', String(rangeMs)],
    ['__range_s', String(rangeS)],
    ['__range', `${rangeS}s`],
    ['__rate_interval_ms', String(rate)],
    ['__rate_interval', goDuration(rate)],
  ];
  let out = expr;
  for (const [name, value] of pairs) {
    out = out.replaceAll(`$${name}`, value).replaceAll(`\${${name}}`, value);
  }
  return out;
}

const secs = (ms) => String(ms / 1000);

/** One field of Grafana's JSON frame format, and its values with NaN/±Inf moved to entities. */
function numberColumn(values) {
  const out = new Array(values.length);
  let entities = null;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    out[i] = null;
    entities ??= {};
    const key = Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : 'NegInf';
    (entities[key] ??= []).push(i);
  }
  return { values: out, entities };
}

/** A Prometheus sample value ("1", "NaN", "+Inf") as Go's strconv.ParseFloat reads it. */
function parseSample(s) {
  if (/^[+-]?inf(inity)?$/i.test(s)) {
    return s.startsWith('-') ? -Infinity : Infinity;
  }
  return Number(s);
}

/** The metric's text the way Grafana names a series without a legend: name{a="x", b="y"} (labels sorted). */
function metricText(labels) {
  const name = labels.__name__ ?? '';
  const rest = Object.keys(labels)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  if (rest.length === 0) {
    return name || '{}';
  }
  return `${name}{${rest.join(', ')}}`;
}

function legendOf(q, labels, expr) {
  let legend = metricText(labels);
  if (q.legendFormat === '__auto') {
    if (Object.keys(labels).length > 0) {
      legend = '';
    }
  } else if (q.legendFormat) {
    legend = q.legendFormat.replace(/\{\{\s*(.+?)\s*\}\}/g, (_m, name) => labels[name] ?? '');
  }
  return legend === '{}' ? expr : legend;
}

function seriesFrame(q, resultType, labels, times, values, stepMs, expr) {
  const { values: nums, entities } = numberColumn(values);
  const legend = legendOf(q, labels, expr);
  const valueField = {
    name: labels.__name__ ?? 'Value',
    type: 'number',
    typeInfo: { frame: 'float64' },
    labels,
    ...(legend ? { config: { displayNameFromDS: legend } } : {}),
  };
  return {
    schema: {
      refId: q.refId,
      meta: {
        type: resultType === 'matrix' ? 'timeseries-multi' : 'numeric-multi',
        typeVersion: [0, 1],
        custom: { resultType },
      },
      fields: [{ name: 'Time', type: 'time', typeInfo: { frame: 'time.Time' }, config: { interval: stepMs } }, valueField],
    },
    data: { values: [times, nums], ...(entities ? { entities: [null, entities] } : {}) },
  };
}

/** Prometheus' JSON answer → frames, as pkg/promlib's converter reads it. Throws on an unreadable body. */
export function framesFromAnswer(q, body, stepMs, expr) {
  if (body.status === 'error') {
    return { error: `${body.errorType ?? ''}: ${body.error ?? ''}`, frames: [] };
  }
  const frames = [];
  const data = body.data ?? {};
  const resultType = data.resultType;
  const toMs = (t) => Math.trunc(Number(t) * 1000);
  if (resultType === 'vector' || resultType === 'matrix') {
    for (const s of data.result ?? []) {
      const pairs = s.values ?? (s.value ? [s.value] : []);
      frames.push(
        seriesFrame(
          q,
          resultType,
          s.metric ?? {},
          pairs.map((p) => toMs(p[0])),
          pairs.map((p) => parseSample(p[1])),
          stepMs,
          expr
        )
      );
    }
  } else if (resultType === 'scalar') {
    const f = seriesFrame(q, 'vector', {}, [toMs(data.result[0])], [parseSample(data.result[1])], stepMs, expr);
    f.schema.meta.custom = { resultType: 'scalar' };
    delete f.schema.fields[1].config;
    frames.push(f);
  } else if (resultType === 'string') {
    frames.push({
      schema: {
        refId: q.refId,
        meta: { type: 'timeseries-multi', custom: { resultType: 'string' } },
        fields: [
          { name: 'Time', type: 'time', typeInfo: { frame: 'time.Time' }, config: { interval: stepMs } },
          { name: 'Value', type: 'string', typeInfo: { frame: 'string' }, labels: {} },
        ],
      },
      data: { values: [[toMs(data.result[0])], [String(data.result[1])]] },
    });
  } else {
    return { error: `unknown result type: ${resultType}`, frames: [] };
  }
  const notices = [
    ...(body.warnings ?? []).map((text) => ({ severity: 'warning', text: String(text) })),
    ...(body.infos ?? []).map((text) => ({ severity: 'info', text: String(text) })),
  ];
  if (frames.length === 0) {
    // No series: one frame without fields, named "Warnings" when it is there to carry them.
    frames.push({
      schema: { ...(notices.length > 0 ? { name: 'Warnings' } : {}), refId: q.refId, meta: { typeVersion: [0, 0] }, fields: [] },
      data: { values: [] },
    });
  }
  if (notices.length > 0) {
    for (const f of frames) {
      f.schema.meta.notices = notices;
    }
  }
  return { frames };
}

/**
 * Runs one /api/ds/query query against the Prometheus at `baseUrl`: the DataResponse Grafana's backend
 * would return for it ({status, frames, error?}). `range` is {from, to} in ms. `log` receives the
 * upstream request and the bytes it answered (the bench's figures).
 */
export async function runPrometheusQuery(baseUrl, q, range, { scrapeInterval, timeoutMs = 60_000, log } = {}) {
  const rangeMs = range.to - range.from;
  const { step, rate } = stepOf(q, rangeMs, scrapeInterval);
  const expr = interpolateMacros(String(q.expr ?? ''), { step, rate, rangeMs });
  const executed = `Expr: ${expr}\nStep: ${goDuration(step)}`;
  let instant = Boolean(q.instant);
  let rangeQuery = Boolean(q.range);
  if (!instant && !rangeQuery) {
    rangeQuery = true;
  }
  const asks = [];
  if (instant) {
    asks.push(['api/v1/query', { query: expr, time: secs(range.to) }]);
  }
  if (rangeQuery) {
    const offset = (q.utcOffsetSec ?? 0) * 1000;
    const align = (t) => Math.floor((t + offset) / step) * step - offset;
    asks.push(['api/v1/query_range', { query: expr, start: secs(align(range.from)), end: secs(align(range.to)), step: String(step / 1000) }]);
  }
  const out = { status: 200, frames: [] };
  const fail = (status, message) => {
    out.status = status;
    out.error = out.error ? `${out.error} ${message}` : message;
  };
  for (const [path, params] of asks) {
    const url = `${baseUrl.replace(/\/$/, '')}/${path}`;
    const started = performance.now();
    let res;
    let text;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const why =
        err?.name === 'TimeoutError'
          ? 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
          : `dial tcp: ${err?.cause?.code ?? err?.message ?? err}`;
      fail(502, `Post "${url}": ${why}`);
      log?.({ refId: q.refId, path, expr, status: 502, bytes: 0, ms: performance.now() - started });
      continue;
    }
    log?.({ refId: q.refId, path, expr, status: res.status, bytes: Buffer.byteLength(text), ms: performance.now() - started });
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      fail(res.status, `unexpected answer from Prometheus (HTTP ${res.status}): not JSON`);
      continue;
    }
    const r = framesFromAnswer(q, body, step, expr);
    if (r.error) {
      fail(res.status, r.error);
    }
    out.frames.push(...r.frames);
  }
  if (out.frames.length === 0 && !out.error) {
    out.frames.push({ schema: { refId: q.refId, meta: { typeVersion: [0, 0] }, fields: [] }, data: { values: [] } });
  }
  if (out.frames.length > 0) {
    out.frames[0].schema.meta.executedQueryString = executed;
  }
  if (out.error) {
    out.errorSource = 'downstream';
  }
  return out;
}

/**
 * POST /api/ds/query: every query to its data source's Prometheus, up to `concurrency` at once (as
 * Grafana runs Prometheus queries in parallel), then {results} with 400 when any failed.
 */
export async function dsQuery(body, resolve, { concurrency = 10, log } = {}) {
  const range = { from: Number(body.from), to: Number(body.to) };
  const queries = body.queries ?? [];
  const results = {};
  let next = 0;
  const worker = async () => {
    while (next < queries.length) {
      const q = queries[next++];
      const ds = resolve(q.datasource?.uid);
      if (!ds) {
        results[q.refId] = { status: 404, error: `data source ${q.datasource?.uid} not found`, frames: [] };
        continue;
      }
      results[q.refId] = await runPrometheusQuery(ds.url, q, range, {
        scrapeInterval: ds.jsonData?.timeInterval,
        timeoutMs: parseInterval(ds.jsonData?.queryTimeout) ?? 60_000,
        log,
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queries.length) }, worker));
  const failed = Object.values(results).some((r) => r.error);
  return { status: failed ? 400 : 200, body: { results } };
}
