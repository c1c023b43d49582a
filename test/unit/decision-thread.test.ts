import { DecisionThread, parseDmn } from '../../src/decisions/index.js';
import { dmn } from '../support/dmn.js';

/** How many decision models the worker keeps by default. */
const WORKER_MODELS = 200;
const table = dmn([{ id: 'd', inputs: [{ expression: 'amount', typeRef: 'number' }], outputs: [{ name: 'size', typeRef: 'string' }], rules: [[['< 100'], ['"small"']], [['>= 100'], ['"large"']]] }]);

describe('decision worker thread', () => {
  let thread: DecisionThread;
  afterEach(async () => thread.close());

  it('when more distinct definitions than the worker keeps are evaluated, then the first still evaluates (main thread and worker evict in step)', async () => {
    thread = new DecisionThread();
    const drg = await parseDmn('t.dmn', table);
    for (let n = 0; n <= WORKER_MODELS; n++) {
      expect((await thread.evaluate(`d:${n}:00000000`, drg, 'd', { amount: n }, 1000)).result).toEqual([{ size: n < 100 ? 'small' : 'large' }]);
    }
    // The first one was evicted on both sides: it is sent again, not DECISION_NOT_LOADED.
    expect((await thread.evaluate('d:0:00000000', drg, 'd', { amount: 5 }, 1000)).result).toEqual([{ size: 'small' }]);
    // And one used all along stays held while newer ones come and go.
    for (let n = 0; n <= WORKER_MODELS; n++) {
      await thread.evaluate('always', drg, 'd', { amount: 1 }, 1000);
      await thread.evaluate(`e:${n}:00000000`, drg, 'd', { amount: 1 }, 1000);
    }
    expect((await thread.evaluate('always', drg, 'd', { amount: 500 }, 1000)).result).toEqual([{ size: 'large' }]);
  });
});
