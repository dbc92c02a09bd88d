// vLLM's small JSON endpoints: GET /v1/models and GET /version. Pure: body text in, data out.
// Tolerant of extra fields (zod objects strip unknown keys), bounded in size, and explicit about
// bodies that are not JSON at all — typically a proxy's or load balancer's HTML error page. Errors
// say what was wrong, never quote the body: whatever answers on a discovered port may hold secrets.

import { z } from 'zod';
import { ParseError, quoteOutput } from '../parsers/errors.js';

export const MAX_MODELS_BODY_BYTES = 4 * 1024 * 1024;
export const MAX_VERSION_BODY_BYTES = 64 * 1024;
/** Models kept from one /v1/models answer (LoRA adapters included). */
export const MAX_MODELS = 4096;

export interface ServedModel {
  /** The name clients send as `model`: the served model name, or the LoRA adapter's name. */
  id: string;
  /** The base model path or HF id; for an adapter, the adapter's path. */
  root: string | null;
  /** For a LoRA adapter, the id of the base model it runs on; null for a base model. */
  parent: string | null;
  /** Context length; vLLM reports it for base models only (adapters: null). */
  maxModelLen: number | null;
  ownedBy: string | null;
  /** Unix seconds. */
  created: number | null;
}

export interface ModelTree {
  model: ServedModel;
  /** LoRA adapters whose `parent` is this model. */
  adapters: ServedModel[];
}

export interface VllmModels {
  /** Every entry, in the server's order. */
  models: ServedModel[];
  /** Base models (no parent, or a parent not listed) with their adapters. */
  tree: ModelTree[];
  /** Entries that were not model objects (missing id...) and were left out. */
  skipped: number;
}

const ModelEntry = z.object({
  id: z.string().min(1).max(1024),
  root: z.string().max(4096).nullish(),
  parent: z.string().max(1024).nullish(),
  max_model_len: z.number().int().positive().nullish(),
  owned_by: z.string().max(256).nullish(),
  created: z.number().finite().nullish(),
});

const ModelList = z.object({
  data: z.array(z.unknown()),
});

const VersionBody = z.object({
  version: z.string().min(1).max(128),
});

/** JSON.parse with errors a person can act on; `what` names the endpoint ("GET /v1/models"). */
export function parseJsonBody(body: string, what: string, maxBytes: number): unknown {
  if (body.length > maxBytes || Buffer.byteLength(body, 'utf8') > maxBytes) {
    throw new ParseError(what, `body is larger than ${maxBytes} bytes`);
  }
  const trimmed = body.trimStart();
  if (trimmed.length === 0) throw new ParseError(what, 'body is empty');
  if (trimmed.startsWith('<')) {
    throw new ParseError(what, `answered HTML or XML, not JSON — a proxy or another server? (${body.length} characters)`);
  }
  try {
    return JSON.parse(body) as unknown;
  } catch (e) {
    throw new ParseError(what, `body is not JSON (${body.length} characters)`, { cause: e });
  }
}

/** GET /v1/models → served models, LoRA adapters as children of their base model. */
export function parseVllmModels(body: string): VllmModels {
  const what = 'GET /v1/models';
  const json = parseJsonBody(body, what, MAX_MODELS_BODY_BYTES);
  const list = ModelList.safeParse(json);
  if (!list.success) {
    throw new ParseError(what, 'not an OpenAI model list (no "data" array)');
  }
  const models: ServedModel[] = [];
  let skipped = 0;
  const seen = new Set<string>();
  for (const entry of list.data.data) {
    if (models.length >= MAX_MODELS) {
      skipped++;
      continue;
    }
    const m = ModelEntry.safeParse(entry);
    if (!m.success || seen.has(m.data.id)) {
      skipped++;
      continue;
    }
    seen.add(m.data.id);
    models.push({
      id: m.data.id,
      root: m.data.root ?? null,
      parent: m.data.parent ?? null,
      maxModelLen: m.data.max_model_len ?? null,
      ownedBy: m.data.owned_by ?? null,
      created: m.data.created ?? null,
    });
  }
  const ids = new Set(models.map((m) => m.id));
  const tree: ModelTree[] = models
    .filter((m) => m.parent === null || !ids.has(m.parent) || m.parent === m.id)
    .map((model) => ({
      model,
      adapters: models.filter((a) => a.parent === model.id && a.id !== model.id),
    }));
  return { models, tree, skipped };
}

/** GET /version → the version string, e.g. "0.10.1.1". */
export function parseVllmVersion(body: string): string {
  const what = 'GET /version';
  const json = parseJsonBody(body, what, MAX_VERSION_BODY_BYTES);
  const v = VersionBody.safeParse(json);
  if (!v.success) throw new ParseError(what, 'no "version" string');
  const clean = quoteOutput(v.data.version, 128);
  if (clean !== v.data.version.trim() || clean.length === 0) {
    throw new ParseError(what, 'version is not printable text');
  }
  return clean;
}
