// Runs nvidia-smi once with a deadline. The child is SIGKILLed on expiry: a hung NVML call ignores SIGTERM.
import { SourceError, sanitizeForMessage } from './sourceError.js';
import { spawnFailure, startChild } from './childProcess.js';

export interface RunOptions {
  timeoutMs: number;
  /** Largest stdout accepted; a larger answer is treated as broken rather than buffered without end. */
  maxBytes?: number;
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

export async function runNvidiaSmi(path: string, args: string[], opts: RunOptions): Promise<string> {
  const cmd = `${path} ${args.join(' ')}`;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const started = startChild(path, args, opts.env);
  if (started instanceof SourceError) throw started;
  const { child, done } = started;
  const out: Buffer[] = [];
  let size = 0;
  let errTail = '';
  let timedOut = false;
  let tooLarge = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs);
  child.stdout?.on('data', (chunk: Buffer) => {
    if (tooLarge) return;
    size += chunk.length;
    if (size > maxBytes) {
      tooLarge = true;
      out.length = 0;
      child.kill('SIGKILL');
    } else out.push(chunk);
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    errTail = (errTail + chunk).slice(-4000);
  });
  const result = await done;
  clearTimeout(timer);
  if (result.spawnError) throw spawnFailure(path, args, result.spawnError);
  if (timedOut) throw new SourceError('timeout', `${cmd}: no answer within ${opts.timeoutMs} ms (killed)`);
  if (tooLarge) throw new SourceError('too-large', `${cmd}: output larger than ${maxBytes} bytes`);
  const stdout = Buffer.concat(out).toString('utf8');
  if (result.code !== 0) {
    // nvidia-smi prints its reason (e.g. "Failed to initialize NVML: ...") on stdout more often than stderr.
    const said = sanitizeForMessage(`${errTail} ${stdout}`);
    const how = result.code === null ? `killed by ${result.signal}` : `exit code ${result.code}`;
    throw new SourceError('exit', `${cmd}: ${how}${said ? `: ${said}` : ''}`);
  }
  return stdout;
}
