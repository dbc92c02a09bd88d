// What a command line's --host may be, and which addresses may be probed: the table an operator
// would check against what a hostile local user can write.
import { checkHostLiteral, endpointParts, isLoopback, ownAddresses, parseAllowList, refuseAddress } from './endpointPolicy.js';

describe('checkHostLiteral: --host is an IP or a host-name literal, nothing else', () => {
  it.each([
    ['127.0.0.1', 'ip'],
    ['0.0.0.0', 'ip'],
    ['10.1.2.3', 'ip'],
    ['::1', 'ip'],
    ['[::1]', 'ip'],
    ['fe80::1', 'ip'],
    ['::ffff:127.0.0.1', 'ip'],
    ['localhost', 'name'],
    ['gpu-node-07', 'name'],
    ['gpu-node-07.cluster.example.com', 'name'],
    ['3com.example', 'name'],
    [`${'a'.repeat(63)}.example`, 'name'],
  ])('accepts %s (%s)', (host, kind) => {
    expect(checkHostLiteral(host)).toMatchObject({ ok: true, kind });
  });

  it.each([
    ['127.0.0.1/internal/secret#', '"/"'],
    ['127.0.0.1:9000/internal', '":"'],
    ['evil.example#', '"#"'],
    ['host?x=1', '"?"'],
    ['user@127.0.0.1', '"@"'],
    ['not:ipv6', '":"'],
    ['127.0.0.1 --port 1', 'a space'],
    ['host\nX-Injected: 1', 'a control character'],
    ['hôst', 'a non-ASCII character'],
    ['host_name', '"_"'],
    ['[::1', '"["'],
    ['fe80::1%eth0', '":"'],
  ])('refuses %j, naming %s but not the value', (host, what) => {
    const r = checkHostLiteral(host);
    expect(r.ok).toBe(false);
    const reason = (r as { reason: string }).reason;
    expect(reason).toContain(`it contains ${what}`);
    expect(reason).not.toContain(host);
  });

  it.each([
    ['', 'it is empty'],
    ['a..b', 'an empty label'],
    ['.example', 'an empty label'],
    [`${'a'.repeat(64)}.example`, 'a label longer than 63 characters'],
    [`${'a.'.repeat(127)}ab`, 'longer than 253 characters'],
    ['-host', 'a label starts or ends with "-"'],
    ['host-.example', 'a label starts or ends with "-"'],
    ['1.2.3', 'numeric, but not a valid IPv4 address'],
    ['999.0.0.1', 'numeric, but not a valid IPv4 address'],
    ['0x7f000001', 'numeric, but not a valid IPv4 address'],
  ])('refuses %j: %s', (host, reason) => {
    expect(checkHostLiteral(host)).toEqual({ ok: false, reason: `--host is neither an IP address nor a host name (${reason})` });
  });
});

describe('which addresses may be probed', () => {
  const own = ownAddresses({ lo: [{ address: '127.0.0.1' }, { address: '::1' }], eth0: [{ address: '192.0.2.10' }, { address: 'FE80::1%eth0' }] });

  it('loopback, in every spelling', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopback(a)).toBe(true);
    for (const a of ['10.0.0.1', '::', '::2', '128.0.0.1', '::ffff:10.0.0.1']) expect(isLoopback(a)).toBe(false);
  });

  it('loopback and this host\'s own addresses pass; others are refused unless allowed', () => {
    expect(refuseAddress('127.0.0.1', own, null)).toBeNull();
    expect(refuseAddress('192.0.2.10', own, null)).toBeNull();
    expect(refuseAddress('fe80::1', own, null)).toBeNull();
    expect(refuseAddress('169.254.169.254', own, null)).toMatch(/not a loopback address nor one of this host's \(--engine-allow-remote/);
    expect(refuseAddress('10.20.30.40', own, null)).not.toBeNull();
    const allow = parseAllowList(['10.0.0.0/8', 'fd00::/8']);
    expect(refuseAddress('10.20.30.40', own, allow)).toBeNull();
    expect(refuseAddress('fd12::5', own, allow)).toBeNull();
    expect(refuseAddress('169.254.169.254', own, allow)).not.toBeNull();
  });

  it('--engine-allow-remote takes CIDRs only', () => {
    for (const bad of ['10.0.0.0', '10.0.0.0/33', 'example.com/8', '::/129', '10.0.0.0/8/1']) expect(() => parseAllowList([bad])).toThrow(/not a network in CIDR form/);
    expect(parseAllowList([])).toBeNull();
  });
});

describe('endpointParts: the only endpoint form probed', () => {
  it('scheme, host, port', () => {
    expect(endpointParts('http://127.0.0.1:8000')).toEqual({ ok: true, protocol: 'http:', host: '127.0.0.1', port: 8000 });
    expect(endpointParts('https://[::1]')).toEqual({ ok: true, protocol: 'https:', host: '::1', port: 443 });
  });
  it.each(['http://127.0.0.1/internal/secret#:8000', 'http://u:p@127.0.0.1:8000', 'http://127.0.0.1:8000/?a=1', 'ftp://127.0.0.1:21', 'http://[not:ipv6]:8000'])(
    'refuses %s',
    (url) => {
      expect(endpointParts(url).ok).toBe(false);
    },
  );
});
