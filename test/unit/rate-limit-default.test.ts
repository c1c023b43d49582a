import { loadConfig } from '../../src/config.js';

describe('rate limit default', () => {
  it('when nothing is configured, then one token may offer what bench:load offers (100 starts/s and 100 completions/s) and more', () => {
    const perMinute = loadConfig({}).REGENFLOW_RATE_LIMIT;
    expect(perMinute).toBeGreaterThanOrEqual(2 * 100 * 60);
  });
});
