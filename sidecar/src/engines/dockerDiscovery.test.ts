import { containerEndpoint } from './dockerDiscovery.js';
import { titleWords } from './procScan.js';
import { parseVllmCmdline } from './vllmCmdline.js';

const launch = (...argv: string[]) => parseVllmCmdline(argv);

describe('where a containerized engine is reached', () => {
  it('takes the published port that maps to the port vLLM listens on inside', () => {
    const ports = [
      { PrivatePort: 22, PublicPort: 2222, IP: '0.0.0.0', Type: 'tcp' },
      { PrivatePort: 8000, PublicPort: 18004, IP: '127.0.0.1', Type: 'tcp' },
    ];
    expect(containerEndpoint(ports, 'bridge', launch('vllm', 'serve', 'm'))).toEqual({ endpoint: 'http://127.0.0.1:18004', problem: null });
  });

  it('reaches a wildcard-published port on loopback, and the only published port when the command is unknown', () => {
    expect(containerEndpoint([{ PrivatePort: 9000, PublicPort: 19000, IP: '0.0.0.0' }], 'bridge', null).endpoint).toBe('http://127.0.0.1:19000');
  });

  it('a port Docker lists twice (published on 0.0.0.0 and ::) is one port', () => {
    const dual = [
      { PrivatePort: 9000, PublicPort: 19000, IP: '0.0.0.0', Type: 'tcp' },
      { PrivatePort: 9000, PublicPort: 19000, IP: '::', Type: 'tcp' },
    ];
    expect(containerEndpoint(dual, 'bridge', null)).toEqual({ endpoint: 'http://127.0.0.1:19000', problem: null });
  });

  it('reads the port from the command line with host networking', () => {
    expect(containerEndpoint([], 'host', launch('python3', '-m', 'vllm.entrypoints.openai.api_server', '--port=8123')).endpoint).toBe('http://127.0.0.1:8123');
  });

  it('says why when there is no way in', () => {
    expect(containerEndpoint([], 'bridge', launch('vllm', 'serve', 'm')).problem).toMatch(/port 8000 is not published/);
    expect(containerEndpoint([], 'host', null).problem).toMatch(/no vLLM command line/);
    const two = [{ PrivatePort: 1, PublicPort: 11 }, { PrivatePort: 2, PublicPort: 12 }];
    expect(containerEndpoint(two, 'bridge', launch('vllm', 'serve', 'm')).problem).toMatch(/several published ports/);
  });
});

describe('titleWords', () => {
  it('splits a rewritten process title into words and leaves real argv alone', () => {
    expect(titleWords(['vllm serve org/m --port 8000'])).toEqual(['vllm', 'serve', 'org/m', '--port', '8000']);
    expect(titleWords(['VLLM::Worker_TP0'])).toEqual(['VLLM::Worker_TP0']);
    expect(titleWords(['python3', '-c', 'a b'])).toEqual(['python3', '-c', 'a b']);
  });
});
