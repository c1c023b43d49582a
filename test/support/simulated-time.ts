/**
 * Simulated wall time for DMEDI cycles that would take real minutes: the node's clock
 * (`Date.now()`, `new Date()`) runs `offset` ahead of the real one, and `skipTo` moves it on
 * when nothing happens until then (a cycle waits at its settle timer). Real time keeps running
 * underneath, so the engine's own work counts too: a cycle's duration read on this clock is
 * the wall time it would take, its waits included.
 *
 * Two clocks say when a timer is due: the node's (bpmn-elements, due times written to the
 * jobs table) and the database's (`now()` in the poller's claim). Only the node's is moved:
 * the driver runs a due timer job itself with the engine's execute-job command, as an
 * operator runs a job now in Camunda 7.
 *
 * Install it before anything reads the clock (import this module first).
 */
const RealDate = Date;
let offset = 0;

class SimulatedDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(RealDate.now() + offset);
    else super(...(args as [number]));
  }
  static override now(): number {
    return RealDate.now() + offset;
  }
  // A Date made before the switch (or by a module that kept the original) is still a Date.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof RealDate;
  }
}

let installed = false;

/** Replaces the global Date with the simulated clock (idempotent). */
export function installSimulatedTime(): void {
  if (installed) return;
  installed = true;
  globalThis.Date = SimulatedDate as DateConstructor;
}

/** Moves the simulated clock on to `at` (never back). */
export function skipTo(at: number): void {
  const ahead = at - (RealDate.now() + offset);
  if (ahead > 0) offset += ahead;
}

/** How far the simulated clock is ahead of the real one, in ms. */
export function simulatedOffset(): number {
  return offset;
}

installSimulatedTime();
