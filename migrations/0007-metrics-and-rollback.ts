import type { Knex } from 'knex';

/**
 * Metric data points other systems send to `POST /v1/metrics` (OTLP), which the entropy
 * module's health reads next to spans. One row per data point: gauges and sums keep their
 * value, histograms their count and sum (explicit buckets too), as sent — cumulative points
 * stay cumulative and are differenced in SQL when they are read. And what the rollback of a
 * regeneration cycle did, since for systems other than regenflow it can fail.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('metric_points', (t) => {
    t.bigIncrements('id').primary();
    t.text('service_name').notNullable(); // resource attribute service.name
    t.text('name').notNullable();
    t.text('unit').notNullable().defaultTo('');
    t.text('kind').notNullable(); // gauge | sum | histogram | exponential_histogram | summary
    t.boolean('monotonic'); // sums only
    t.smallint('temporality').notNullable().defaultTo(0); // OTLP AggregationTemporality: 0 unspecified, 1 delta, 2 cumulative
    t.text('series_key').notNullable(); // digest of scope and point attributes: one time series
    t.jsonb('attributes').notNullable().defaultTo('{}');
    t.text('scope_name');
    t.timestamp('start_time', { useTz: true, precision: 6 });
    t.timestamp('time', { useTz: true, precision: 6 }).notNullable();
    t.double('value'); // gauge and sum points
    t.double('count'); // histogram and summary points
    t.double('sum');
    t.double('min');
    t.double('max');
    t.jsonb('bucket_bounds'); // explicit histogram bounds, null otherwise
    t.jsonb('bucket_counts');
    // A point is its series at its time: a re-sent batch (OTLP retries) is not counted twice.
    t.unique(['service_name', 'name', 'series_key', 'time']);
    t.index(['service_name', 'time']);
  });

  // What a cycle's rollback did: { rolledBack, reason, at } (status says rolled-back or rollback-failed).
  await knex.schema.alterTable('regeneration_cycles', (t) => {
    t.jsonb('rollback');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('regeneration_cycles', (t) => {
    t.dropColumn('rollback');
  });
  await knex.schema.dropTable('metric_points');
}
