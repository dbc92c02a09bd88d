#!/usr/bin/env node
// The gpufleet-report executable (the command itself is cli.ts, importable by tests without running it).
import { main } from './cli.js';

void main(process.argv);
