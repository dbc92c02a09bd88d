// Runs nvidia-smi once with a deadline. The child is SIGKILLed on expiry: a hung NVML call ignores SIGTERM.
import { execa } from 'execa';
import { SourceError, sanitizeForMessage } from './sourceError.js';

export interface RunOptions {
  timeoutMs: number;
  /** Largest stdout accepted; a larger answer is treated as broken rather than buffered without end. */
  maxBytes?: number;
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

export async function runNvidiaSmi(path: string, args: string[], opts: RunOptions): Promise<string> {
  const cmd = `${path} ${args.join(' ')}`;
  const result = await execa(path, args, {
    reject: false,
    timeout: opts.timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: opts.maxBytes ?? DEFAULT_MAX_BYTES,
    stripFinalNewline: false,
    env: opts.env,
    stdin: 'ignore',
  });
  if (result.timedOut) {
    throw new SourceError('timeout', `${cmd}: no answer within ${opts.timeoutMs} ms (killed)`);
  }
  if (result.isMaxBuffer) {
    throw new SourceError('too-large', `${cmd}: output larger than ${opts.maxBytes ?? DEFAULT_MAX_BYTES} bytes`);
  }
  if (result.failed && result.exitCode === undefined) {
    const code = (result as { code?: string }).code;
    const hint = code === 'ENOENT' ? ' (not found: is the NVIDIA driver installed, or set --nvidia-smi)' : '';
    throw new SourceError('spawn', `${cmd}: could not start${hint}: ${sanitizeForMessage(result.shortMessage ?? "")}`);
  }
  if (result.exitCode !== 0) {
    // nvidia-smi prints its reason (e.g. "Failed to initialize NVML: ...") on stdout more often than stderr.
    const said = sanitizeForMessage(`${result.stderr} ${result.stdout}`);
    throw new SourceError('exit', `${cmd}: exit code ${result.exitCode}${said ? `: ${said}` : ''}`);
  }
  return result.stdout as string;
}
