// @grafana/data as the topology panel's pure modules (src/panels/topology/prometheus/) take it under Node:
// the few values they use, from @grafana/data's own CommonJS modules. Its index (ES or CommonJS) pulls in
// packages that do not link under Jest's Node ESM (moment-timezone, marked); types need nothing at run time.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './harness.js';

const require = createRequire(import.meta.url);
const cjs = (rel: string) => require(join(ROOT, 'node_modules/@grafana/data/dist/cjs', rel));

export const FieldType = cjs('types/dataFrame.cjs').FieldType;
export const ThresholdsMode = cjs('types/thresholds.cjs').ThresholdsMode;
export const getActiveThreshold = cjs('field/thresholds.cjs').getActiveThreshold;
