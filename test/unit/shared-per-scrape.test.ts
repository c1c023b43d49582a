import { sharedPerScrape } from '../../src/telemetry/metrics.js';

describe('sharedPerScrape', () => {
  it('when two gauges of one scrape read at once, then one read serves both; the next scrape reads afresh', async () => {
    let reads = 0;
    const depth = sharedPerScrape(async () => {
      reads++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return reads;
    });
    // One scrape: prom-client starts every collect before awaiting any
    expect(await Promise.all([depth(), depth()])).toEqual([1, 1]);
    // The next scrape, even right after: a new read, never the last one's value
    expect(await depth()).toBe(2);
    // A failed read is not kept either
    const failing = sharedPerScrape(async () => {
      reads++;
      throw new Error('database gone');
    });
    await expect(failing()).rejects.toThrow('database gone');
    await expect(failing()).rejects.toThrow('database gone');
    expect(reads).toBe(4);
  });
});
