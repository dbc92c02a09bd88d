// Where a process's inherited listening socket listens, from procfs: /proc/PID/fd/N links to
// `socket:[inode]`, and the row of /proc/PID/net/tcp or tcp6 with that inode in state LISTEN gives
// the local address and port. vLLM's Rust frontend gets its HTTP socket this way (`--listen-fd N`,
// bound by the `vllm serve` process), so its command line does not say the port.
// The tables are the process's own network namespace's (/proc/PID/net), which is what a socket's
// inode is found in. Parsing is pure; reading goes through the scanner's reader.

export interface ListenAddress {
  /** Dotted IPv4 or compressed IPv6 text (`0.0.0.0`, `::`). */
  host: string;
  port: number;
}

/** `socket:[12345]` → 12345; null for anything else (a file, a pipe, an anon inode). */
export function socketInode(link: string): number | null {
  const m = /^socket:\[(\d{1,20})\]$/.exec(link);
  return m ? Number(m[1]) : null;
}

const LISTEN = '0A';

/** A 32-bit word of /proc/net/tcp's address field, written in host order (little-endian on every Linux we run on). */
function wordBytes(hex: string): number[] {
  const v = Number.parseInt(hex, 16);
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function addressText(hex: string): string | null {
  if (!/^[0-9A-Fa-f]+$/.test(hex)) return null;
  if (hex.length === 8) return wordBytes(hex).join('.');
  if (hex.length !== 32) return null;
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 8) bytes.push(...wordBytes(hex.slice(i, i + 8)));
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  // Compress the longest run of zero groups, as inet_ntop does (enough for `::` and `::1`).
  const text = groups.join(':');
  const runs = text.match(/(?:^|:)0(?::0)+(?::|$)/g);
  if (!runs) return text;
  const longest = runs.reduce((a, b) => (b.length > a.length ? b : a));
  return text.replace(longest, '::');
}

/** The LISTEN row with this inode in the text of /proc/net/tcp or tcp6; null when none. */
export function listenAddressOf(table: string, inode: number): ListenAddress | null {
  const want = String(inode);
  for (const line of table.split('\n')) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
    if (f.length < 10 || f[9] !== want || f[3] !== LISTEN) continue;
    const [addr, portHex] = (f[1] as string).split(':');
    const host = addressText(addr ?? '');
    const port = Number.parseInt(portHex ?? '', 16);
    if (host === null || !Number.isInteger(port) || port <= 0 || port > 65535) return null;
    return { host, port };
  }
  return null;
}
