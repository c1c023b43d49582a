import type { Knex } from 'knex';

/**
 * The database's clock is the one every node agrees on: due times, leases and lock expiries
 * are computed and compared with it, never with a node's own clock (nodes drift, and a node
 * whose clock is minutes off would fire timers late or early, or steal leases).
 */

/** The database's current time (`clock_timestamp()`: now, not the transaction's start). */
export async function databaseNow(knex: Knex | Knex.Transaction): Promise<Date> {
  const result = await knex.raw('SELECT clock_timestamp() AS now');
  return new Date(result.rows[0].now);
}

/** Offsets below this are measurement noise (half a round trip), not a clock that is off. */
const NEGLIGIBLE_OFFSET_MS = 100;

/**
 * This node's clock minus the database's, in ms: measured from one round trip (at its midpoint),
 * again once `refreshMs` have passed (clocks drift slowly), 0 when under 100 ms. Times a node
 * takes on its own clock (when a step ran, a timer's due time) are written as `t − offset`.
 */
export class NodeClockOffset {
  private value = 0;
  private measuredAt = Number.NEGATIVE_INFINITY;
  private measuring: Promise<number> | undefined;

  constructor(
    private readonly knex: Knex,
    private readonly refreshMs = 10_000,
  ) {}

  /** The offset last measured (0 before the first): for writes inside a transaction, which must not wait on a measurement. */
  known(): number {
    return this.value;
  }

  /** This node's now, on the database's clock (by the offset last measured). */
  now(): Date {
    return new Date(Date.now() - this.value);
  }

  async current(): Promise<number> {
    // performance.now(): the age of a measurement must not depend on the clock it measures.
    if (performance.now() - this.measuredAt < this.refreshMs) return this.value;
    this.measuring ??= this.measure().finally(() => (this.measuring = undefined));
    return this.measuring;
  }

  private async measure(): Promise<number> {
    const before = Date.now();
    const database = (await databaseNow(this.knex)).getTime();
    const offset = (before + Date.now()) / 2 - database;
    this.value = Math.abs(offset) < NEGLIGIBLE_OFFSET_MS ? 0 : Math.round(offset);
    this.measuredAt = performance.now();
    return this.value;
  }
}

/**
 * A time a node computed on its own clock (a timer's due time: bpmn-elements does), as an SQL value on the
 * database's clock: what is left until it, measured on the node's clock, counted from the
 * database's now. Clocks may disagree on the time of day; they agree on how long a second is.
 */
export function onDatabaseClock(knex: Knex | Knex.Transaction, nodeTime: Date, nodeNow = Date.now()): Knex.Raw {
  return knex.raw('clock_timestamp() + make_interval(secs => ?)', [(nodeTime.getTime() - nodeNow) / 1000]);
}
