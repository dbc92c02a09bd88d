// One long-running `nvidia-smi -q -x -lms N` instead of a spawn per tick: NVML is initialised once, which
// is most of the cost of a real nvidia-smi call. Its stdout is split per <nvidia_smi_log> document (or,
// given other arguments and a splitter, per whatever unit they print: query mode's CSV lines). A
// child that stops printing is killed and restarted; until it answers again the source is failed.
// Silence is measured on the monotonic clock: a wall-clock step forward must not look like a hang
// (and kill a healthy child), nor one backward hide a real hang.
import type { ChildProcess } from 'node:child_process';
import { splitSmiLogStream, type SmiLogStreamSplitter } from '../parsers/nvidiaSmiStream.js';
import { keepReadElements } from '../parsers/nvidiaSmiXml.js';
import { systemClock, type Clock } from '../util/clock.js';
import { spawnFailure, startChild } from './childProcess.js';
import { SourceError, sanitizeForMessage } from './sourceError.js';

/** Cuts a child's stdout into documents, keeping what is incomplete for the next chunk. */
export type StreamSplitter = Pick<SmiLogStreamSplitter, 'push'>;

/** `-lms` and its value: nvidia-smi's loop at `intervalMs`, never faster than 100 ms. */
export function loopMsArgs(intervalMs: number): string[] {
  return ['-lms', String(Math.max(100, Math.round(intervalMs)))];
}

export interface LoopOptions {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  /** The child's arguments; default `-q -x -lms <intervalMs>`. */
  args?: string[];
  /** Default: the <nvidia_smi_log> splitter, keeping only the elements the XML parser reads. */
  split?: () => StreamSplitter;
  /**
   * Called with every document as it is read (`latest()` holds only the newest); false when it was not
   * one the caller could use (nvidia-smi's error line), which then does not end the restart back-off.
   */
  onDocument?: (text: string, at: number) => boolean;
  env?: NodeJS.ProcessEnv;
  onLog?: (level: 'info' | 'warn', msg: string) => void;
  clock?: Clock;
}

export class NvidiaSmiLoop {
  private child: ChildProcess | null = null;
  /** `at`: monotonic ms the document was read. */
  private latestDoc: { text: string; at: number } | null = null;
  private lastError: SourceError | null = null;
  private startedAt = 0;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private restartAsked = false;
  private stderrTail = '';
  /** Settles at the first document, or when the first child is gone or stopped: its chance is over. */
  private settleFirst!: () => void;
  private readonly firstChance = new Promise<void>((resolve) => (this.settleFirst = resolve));

  private readonly clock: Clock;

  private readonly args: string[];

  constructor(private readonly opts: LoopOptions) {
    this.clock = opts.clock ?? systemClock;
    this.args = opts.args ?? ['-q', '-x', ...loopMsArgs(opts.intervalMs)];
  }

  /**
   * Resolves when the first document is in, when the child exits before printing one, or after `ms`
   * (a hung start), whichever comes first: the first tick then has a document or a reason.
   */
  firstDocument(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    });
    return Promise.race([this.firstChance, deadline]).finally(() => clearTimeout(timer));
  }

  start(): void {
    if (this.stopped || this.child) return;
    const { path, env } = this.opts;
    const args = this.args;
    this.startedAt = this.clock.monoMs();
    this.stderrTail = '';
    const started = startChild(path, args, env);
    if (started instanceof SourceError) {
      this.exited(started);
      return;
    }
    const { child, done } = started;
    this.child = child;
    // Documents come filtered to the elements the parser reads, never as one string of their full size.
    const split = this.opts.split?.() ?? splitSmiLogStream({ keep: keepReadElements });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      const { documents, errors } = split.push(chunk);
      if (errors.length) this.lastError = new SourceError('parse', `${path} ${args.join(' ')}: ${errors.join('; ')}`);
      const last = documents[documents.length - 1];
      if (last !== undefined) {
        const at = this.clock.monoMs();
        let usable = true;
        if (this.opts.onDocument) {
          usable = false;
          for (const d of documents) if (this.opts.onDocument(d, at)) usable = true;
        }
        this.latestDoc = { text: last, at };
        if (usable) this.restarts = 0;
        this.settleFirst();
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2000);
    });
    void done.then((result) => {
      if (this.child !== child) return;
      this.child = null;
      const asked = this.restartAsked;
      this.restartAsked = false;
      if (result.spawnError) {
        this.exited(spawnFailure(path, args, result.spawnError));
        return;
      }
      if (asked) {
        this.start();
        return;
      }
      const said = sanitizeForMessage(this.stderrTail);
      this.exited(new SourceError('exit', `${path} ${args.join(' ')} exited with code ${result.code ?? result.signal}${said ? `: ${said}` : ''}`));
    });
  }

  /** The child is gone (or never started): say why, and start another after a backoff. */
  private exited(error: SourceError): void {
    this.settleFirst();
    if (this.stopped) return;
    this.lastError = error;
    this.opts.onLog?.('warn', error.message);
    // Back off on a crash loop, up to 30 s, so a broken driver does not fork-bomb the host.
    const delay = Math.min(30_000, Math.max(this.opts.intervalMs, 1000) * 2 ** Math.min(this.restarts, 5));
    this.restarts++;
    this.restartTimer = setTimeout(() => this.start(), delay);
    this.restartTimer.unref();
  }

  /** The newest document, or a SourceError when there is none fresh enough. */
  latest(now = this.clock.monoMs()): { text: string; at: number } {
    const deadline = this.opts.intervalMs + this.opts.timeoutMs;
    const doc = this.latestDoc;
    if (doc && now - doc.at <= deadline) return doc;
    if (this.child && !this.restartAsked && now - Math.max(this.startedAt, doc?.at ?? 0) > deadline) {
      // Alive but silent: a hung NVML call. Kill it; the exit handler restarts it.
      this.opts.onLog?.('warn', `${this.opts.path} printed nothing for ${deadline} ms; killing it`);
      this.child.kill('SIGKILL');
      this.lastError = new SourceError('timeout', `${this.opts.path} ${this.args.join(' ')}: no document within ${deadline} ms (killed, restarting)`);
    }
    throw this.lastError ?? new SourceError('timeout', `${this.opts.path} ${this.args.join(' ')}: no document yet`);
  }

  /** Replaces the child with a new one at once, which sees the GPUs as they are now; the newest document stays. */
  restart(): void {
    if (!this.child) return;
    this.restartAsked = true;
    this.child.kill('SIGKILL');
  }

  stop(): void {
    this.stopped = true;
    this.settleFirst();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.child?.kill('SIGKILL');
    this.child = null;
  }
}
