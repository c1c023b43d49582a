/**
 * bpmn-elements runs a chain of activities without wait states as one synchronous
 * recursion through its message broker: ~600 activities overflow the stack. This extension
 * wraps every activity behaviour so that, after `budget` activities ran in one synchronous
 * stretch, the next one starts from a fresh stack (setImmediate). The transition's settle
 * loop waits for these hops like for any other pending work.
 */
export interface StackYieldOptions {
  budget: number;
  track(promise: Promise<unknown>): void;
  stopped(): boolean;
}

export function createStackYield(initial: StackYieldOptions) {
  // Rebound to each transition of a warm instance (see `rebind`): read through `options`.
  let options = initial;
  let remaining = options.budget;

  function run(execute: () => void): void {
    if (remaining-- > 0) return execute();
    options.track(
      new Promise<void>((resolve) =>
        setImmediate(() => {
          remaining = options.budget;
          try {
            if (!options.stopped()) execute();
          } finally {
            resolve();
          }
        }),
      ),
    );
  }

  const inert = { activate() {}, deactivate() {} };
  const extension = function extension(activity: { Behaviour?: new (...args: any[]) => { execute(message: unknown): unknown } }) {
    const Original = activity.Behaviour;
    if (typeof Original !== 'function') return inert;
    activity.Behaviour = function YieldingBehaviour(this: unknown, ...args: unknown[]) {
      const behaviour = new Original(...args);
      const execute = behaviour.execute.bind(behaviour);
      behaviour.execute = (message: unknown) => run(() => execute(message));
      return behaviour;
    } as unknown as typeof Original;
    return inert;
  };
  return {
    extension,
    rebind(next: StackYieldOptions): void {
      options = next;
      remaining = next.budget;
    },
  };
}
