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

/**
 * A time a node computed on its own clock (a timer's due time: bpmn-elements does), as an SQL value on the
 * database's clock: what is left until it, measured on the node's clock, counted from the
 * database's now. Clocks may disagree on the time of day; they agree on how long a second is.
 */
export function onDatabaseClock(knex: Knex | Knex.Transaction, nodeTime: Date, nodeNow = Date.now()): Knex.Raw {
  return knex.raw('clock_timestamp() + make_interval(secs => ?)', [(nodeTime.getTime() - nodeNow) / 1000]);
}
