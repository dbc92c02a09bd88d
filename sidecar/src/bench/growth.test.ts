import { parseScenario } from '../sim/scenario.js';
import { GPU_COUNTS, gpuScenario } from './growth.js';

describe('the generated GPU scenarios of the growth bench', () => {
  it('are scenarios the simulator accepts, with the asked number of GPUs and no engines', () => {
    for (const n of GPU_COUNTS) {
      const s = parseScenario(gpuScenario(n), `gpus-${n}`);
      expect(s.gpus).toHaveLength(n);
      expect(s.engines).toHaveLength(0);
    }
  });
});
