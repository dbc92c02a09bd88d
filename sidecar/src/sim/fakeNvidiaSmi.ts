#!/usr/bin/env node
// A fake `nvidia-smi` for the simulated GPU host. It prints the real output formats from a scenario's state
// at the current time, so the sidecar's real collector code can run against it unchanged.
//
//   GPUFLEET_SIM_SCENARIO  scenario file (YAML/JSON) or a shipped name (demo, small, faults); default: demo
//   GPUFLEET_SIM_HOSTNAME  optional: the host's name instead of the scenario's (GPU and MIG UUIDs derive from it)
//   GPUFLEET_SIM_EPOCH     scenario start, ms since the Unix epoch; default: the start of the current hour
//   GPUFLEET_SIM_CONTROL   optional JSON file of live overrides, re-read on every call and loop tick
//
// Supported: -q -x [-l N | -lms N], -L, vgpu -q, --query-gpu=… --format=csv[,noheader][,nounits],
// --query-compute-apps=… --format=csv…, -i ID[,ID…], --version, -h. See README.md in this folder.
import { main } from './fakeCli.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`gpufleet fake nvidia-smi: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 255;
  }
);
