// Engine ports of a simulated host: the scenario's when free, another when taken (by another simulated
// host on the same machine), never two engines on one port.
import { createServer, type Server } from 'node:net';
import { choosePorts } from './simHost.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

describe('choosePorts', () => {
  it('keeps a free port, moves a taken one, and gives distinct ports', async () => {
    const taken = await listen(0);
    const takenPort = (taken.address() as { port: number }).port;
    const free = await listen(0);
    const freePort = (free.address() as { port: number }).port;
    await new Promise((r) => free.close(r));
    try {
      const ports = await choosePorts([freePort, takenPort, takenPort]);
      expect(ports[0]).toBe(freePort);
      expect(ports[1]).not.toBe(takenPort);
      expect(ports[2]).not.toBe(takenPort);
      expect(new Set(ports).size).toBe(3);
      // Released again: the engines bind them next.
      for (const p of ports) await new Promise((r) => listen(p).then((s) => s.close(r)));
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});
