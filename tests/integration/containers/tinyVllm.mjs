// A stand-in vLLM API server for container tests, run by Node inside a Podman container (the host's
// /usr mounted read-only). It titles itself like the launch it stands for, so /proc/PID/cmdline
// reads `vllm serve <model> --port <port>` as for a real engine, and answers vLLM's endpoints with
// the real captures mounted at /fixtures.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const args = process.argv.slice(2); // vllm serve <model> --port <port> …
process.title = args.join(' ');
const port = Number(args[args.indexOf('--port') + 1] ?? 8000);
const model = args[2] ?? 'unknown';
const metrics = readFileSync('/fixtures/metrics_0.10.1_ngc-25.09_qwen3-4b-fp8_tp1_6-requests.txt', 'utf8');

createServer((req, res) => {
  if (req.url === '/health') {res.end();}
  else if (req.url === '/version') {res.end(JSON.stringify({ version: '0.10.1' }));}
  else if (req.url === '/v1/models') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ object: 'list', data: [{ id: model, object: 'model', created: 0, owned_by: 'vllm', root: model, parent: null, max_model_len: 8192 }] }));
  } else if (req.url === '/metrics') {res.end(metrics);}
  else {
    res.statusCode = 404;
    res.end();
  }
}).listen(port, '0.0.0.0');
