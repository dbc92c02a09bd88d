// Test-only helpers for the real nvidia-smi fixtures in tests/fixtures/nvidia-smi (see PROVENANCE.md
// there). Not production code: excluded from the build (tsconfig.build.json excludes __tests__).

import { fixtureDir } from '../../testing/fixtureDir.js';

const smi = fixtureDir('nvidia-smi');

/** tests/fixtures/nvidia-smi/ of this repository. */
export const FIXTURE_DIR = smi.dir;
export const readFixture = smi.read;
export const fixtureNames = smi.names;

const RULE = /^#{20,}\s*$/;

/**
 * One section of a nvidia_gpu_exporter capture file (capture_*.txt). Sections look like
 *
 *   ################################################################################
 *   # load :: query (-q)
 *   # $ nvidia-smi -q
 *   ################################################################################
 *   <output>
 *
 * and `title` is the text after "# " on the first header line ("load :: query (-q)"). Returns the
 * output lines up to the next header. Throws when the section is absent.
 */
export function captureSection(text: string, title: string): string {
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!RULE.test(lines[i] ?? '') || (lines[i + 1] ?? '').trim() !== `# ${title}`) continue;
    let j = i + 2;
    while (j < lines.length && !RULE.test(lines[j] ?? '')) j++; // the closing rule of the header
    const out: string[] = [];
    for (let k = j + 1; k < lines.length && !RULE.test(lines[k] ?? ''); k++) out.push(lines[k] ?? '');
    return out.join('\n');
  }
  throw new Error(`capture section not found: ${title}`);
}

// A command line in the session fixtures: a shell prompt ("[root@dx01 ~]# nvidia-smi -L",
// "[root@localhost:~] nvidia-smi") or, in the KVM session, a bare "nvidia-smi ..." line.
const PROMPT = /^\[[^\]]*\][#$]?\s*(.*)$/;
const BARE_COMMAND = /^(nvidia-smi(?: [^|]*)?)\s*$/;

function commandOf(line: string): string | null {
  const p = PROMPT.exec(line);
  if (p) return (p[1] ?? '').trim();
  const b = BARE_COMMAND.exec(line);
  return b ? (b[1] ?? '').trim() : null;
}

/**
 * The output of the `occurrence`-th (0-based) run of `command` in a shell-session fixture: the
 * lines after that command line up to the next command line. Throws when absent.
 */
export function sessionOutput(text: string, command: string, occurrence = 0): string {
  const lines = text.split('\n');
  let seen = 0;
  for (let i = 0; i < lines.length; i++) {
    if (commandOf(lines[i] ?? '') !== command) continue;
    if (seen++ < occurrence) continue;
    const out: string[] = [];
    for (let k = i + 1; k < lines.length && commandOf(lines[k] ?? '') === null; k++) out.push(lines[k] ?? '');
    return out.join('\n');
  }
  throw new Error(`session command not found: ${command} (#${occurrence})`);
}
