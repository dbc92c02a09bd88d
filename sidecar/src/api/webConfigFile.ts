// Reads --web.config.file: the YAML (webConfig.ts) and, when TLS is on, the certificates it names, so
// every mistake shows at start (exit 2) or at reload, never on a client's first handshake.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseWebConfig, type WebConfig } from './webConfig.js';
import { secureContextOptions } from './webTls.js';

export type { WebConfig } from './webConfig.js';

/** Throws an Error whose message names the option, the file and what is wrong. */
export function readWebConfig(path: string): WebConfig {
  const file = resolve(path);
  try {
    const config = parseWebConfig(readFileSync(file, 'utf8'), dirname(file));
    if (config.tls) secureContextOptions(config.tls);
    return config;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`--web.config.file: ${file}: ${e.code && e.syscall ? `cannot read (${e.code})` : e.message}`);
  }
}
