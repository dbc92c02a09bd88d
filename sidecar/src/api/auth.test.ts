import { hashSync } from 'bcryptjs';
import express from 'express';
import type { Server } from 'node:http';
import { Authenticator, parseBasic, sameSecret, type Credentials } from './auth.js';
import { errorHandler } from './errors.js';
import { listenLoopback } from '../testing/listenLoopback.js';

// Cost 4: the lowest bcrypt allows, so the tests stay fast; the code path is the same.
const ALICE = hashSync('alice-pass', 4);

async function serve(creds: () => Credentials): Promise<{ base: string; server: Server }> {
  const app = express();
  app.use(new Authenticator(creds).middleware());
  app.get('/x', (_req, res) => res.send('ok'));
  app.use(errorHandler);
  const { server, base } = await listenLoopback(app);
  return { base: `${base}/x`, server };
}

const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });

describe('authentication', () => {
  let creds: Credentials;
  let base: string;
  let server: Server;
  beforeAll(async () => {
    ({ base, server } = await serve(() => creds));
  });
  afterAll(() => server.close());

  const status = async (headers: Record<string, string> = {}) => (await fetch(base, { headers })).status;

  it('nothing configured: open', async () => {
    creds = { token: null, basicUsers: new Map() };
    expect(await status()).toBe(200);
  });

  it('token and users both configured: either is accepted, anything else is 401 offering both', async () => {
    creds = { token: 'tok-1', basicUsers: new Map([['alice', ALICE]]) };
    expect(await status({ authorization: 'Bearer tok-1' })).toBe(200);
    expect(await status(basic('alice', 'alice-pass'))).toBe(200);
    for (const h of [{}, { authorization: 'Bearer tok-2' }, basic('alice', 'wrong'), basic('mallory', 'alice-pass'), { authorization: 'Basic !!!' }]) {
      const r = await fetch(base, { headers: h });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Basic realm="gpufleet", charset="UTF-8", Bearer realm="gpufleet"');
      expect(await r.json()).toEqual({ error: { code: 'unauthorized', message: expect.stringMatching(/Bearer .* or HTTP basic auth/) } });
    }
  });

  it('a remembered password stops working once its hash changes (a reloaded web config)', async () => {
    creds = { token: null, basicUsers: new Map([['alice', ALICE]]) };
    expect(await status(basic('alice', 'alice-pass'))).toBe(200);
    expect(await status(basic('alice', 'alice-pass'))).toBe(200);
    creds = { token: null, basicUsers: new Map([['alice', hashSync('new-pass', 4)]]) };
    expect(await status(basic('alice', 'alice-pass'))).toBe(401);
    expect(await status(basic('alice', 'new-pass'))).toBe(200);
  });

  it('a token only: the challenge is Bearer alone', async () => {
    creds = { token: 'tok-1', basicUsers: new Map() };
    const r = await fetch(base, { headers: basic('alice', 'alice-pass') });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer realm="gpufleet"');
  });
});

describe('credential helpers', () => {
  it('compares secrets of any length', () => {
    expect(sameSecret('abc', 'abc')).toBe(true);
    expect(sameSecret('abc', 'abcd')).toBe(false);
    expect(sameSecret('', 'x')).toBe(false);
  });

  it('parses basic credentials, passwords with colons included', () => {
    expect(parseBasic(`Basic ${Buffer.from('u:p:q').toString('base64')}`)).toEqual({ user: 'u', pass: 'p:q' });
    expect(parseBasic(`Basic ${Buffer.from('no-colon').toString('base64')}`)).toBeNull();
    expect(parseBasic('Bearer x')).toBeNull();
  });
});

describe('allowsAtOnce', () => {
  it('lets in at once only what the middleware would let in without a bcrypt check', async () => {
    let creds: Credentials = { token: null, basicUsers: new Map() };
    const a = new Authenticator(() => creds);
    expect(a.allowsAtOnce(undefined)).toBe(true);
    creds = { token: 'tok-1', basicUsers: new Map([['alice', ALICE]]) };
    expect(a.allowsAtOnce('Bearer tok-1')).toBe(true);
    expect(a.allowsAtOnce('Bearer tok-2')).toBe(false);
    expect(a.allowsAtOnce(undefined)).toBe(false);
    const header = basic('alice', 'alice-pass').authorization;
    expect(a.allowsAtOnce(header)).toBe(false);
    // Once the middleware has verified them, the same credentials are let in at once; a changed hash is not.
    const app = express();
    app.use(a.middleware());
    app.get('/x', (_req, res) => res.send('ok'));
    const { server, base } = await listenLoopback(app);
    try {
      expect((await fetch(`${base}/x`, { headers: { authorization: header } })).status).toBe(200);
    } finally {
      server.close();
    }
    expect(a.allowsAtOnce(header)).toBe(true);
    expect(a.allowsAtOnce(basic('alice', 'wrong').authorization)).toBe(false);
    creds = { token: 'tok-1', basicUsers: new Map([['alice', hashSync('alice-pass', 4)]]) };
    expect(a.allowsAtOnce(header)).toBe(false);
  });
});
