import type { Knex } from 'knex';
import type { Measurement } from './entropy-types.js';

/** The entropy_measurements table: one row per measurement of a system. */

interface MeasurementRow {
  id: string | number;
  system: string;
  measured_at: Date | string;
  window_start: Date | string;
  window_end: Date | string;
  health: number;
  health_state: string;
  drift: number;
  validation_errors: number;
  score: number;
  level: string;
  indicators: Record<string, unknown> | string;
}

const isoOf = (value: Date | string) => new Date(value).toISOString();

function toMeasurement(row: MeasurementRow): Measurement {
  return {
    id: String(row.id),
    system: row.system,
    measuredAt: isoOf(row.measured_at),
    windowStart: isoOf(row.window_start),
    windowEnd: isoOf(row.window_end),
    health: Number(row.health),
    healthState: row.health_state as Measurement['healthState'],
    drift: Number(row.drift),
    validationErrors: Number(row.validation_errors),
    score: Number(row.score),
    level: row.level as Measurement['level'],
    indicators: typeof row.indicators === 'string' ? JSON.parse(row.indicators) : row.indicators,
  };
}

export async function insertMeasurement(knex: Knex, measurement: Measurement): Promise<Measurement> {
  const [row] = await knex('entropy_measurements')
    .insert({
      system: measurement.system,
      measured_at: measurement.measuredAt,
      window_start: measurement.windowStart,
      window_end: measurement.windowEnd,
      health: measurement.health,
      health_state: measurement.healthState,
      drift: measurement.drift,
      validation_errors: measurement.validationErrors,
      score: measurement.score,
      level: measurement.level,
      indicators: JSON.stringify(measurement.indicators),
    })
    .returning('*');
  return toMeasurement(row as MeasurementRow);
}

/** Newest first. */
export async function listMeasurements(knex: Knex, system: string, limit: number): Promise<Measurement[]> {
  const found = await knex('entropy_measurements').where({ system }).orderBy([{ column: 'measured_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit);
  return (found as MeasurementRow[]).map(toMeasurement);
}

export async function latestPerSystem(knex: Knex): Promise<Measurement[]> {
  const found = await knex
    .select('m.*')
    .from('entropy_measurements as m')
    .whereRaw('m.id = (select m2.id from entropy_measurements m2 where m2.system = m.system order by m2.measured_at desc, m2.id desc limit 1)');
  return (found as MeasurementRow[]).map(toMeasurement);
}

export async function measurementById(knex: Knex, id: string): Promise<Measurement | null> {
  if (!/^\d{1,18}$/.test(id)) return null;
  const row = await knex('entropy_measurements').where({ id }).first();
  return row ? toMeasurement(row as MeasurementRow) : null;
}
