import type { Knex } from 'knex';

/**
 * The span store: every span the engine emits for its own activities and every span
 * other systems send to `POST /v1/traces`. The entropy and validator modules read it
 * with aggregate SQL, so the columns they group and filter on are real columns, not
 * JSON paths. Each instance keeps the trace it belongs to, so one instance is one trace
 * however many nodes and restarts it lives through.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('spans', (t) => {
    t.bigIncrements('id').primary();
    t.text('trace_id').notNullable(); // 32 lowercase hex
    t.text('span_id').notNullable(); // 16 lowercase hex
    t.text('parent_span_id');
    t.text('service_name').notNullable(); // resource attribute service.name
    t.text('name').notNullable();
    t.smallint('kind').notNullable().defaultTo(1); // OTLP SpanKind: 1 internal .. 5 consumer
    t.timestamp('start_time', { useTz: true, precision: 6 }).notNullable();
    t.timestamp('end_time', { useTz: true, precision: 6 }).notNullable();
    t.double('duration_ms').notNullable();
    t.smallint('status_code').notNullable().defaultTo(0); // 0 unset, 1 ok, 2 error
    t.text('status_message');
    t.jsonb('attributes').notNullable().defaultTo('{}');
    t.jsonb('resource').notNullable().defaultTo('{}');
    t.text('scope_name'); // instrumentation scope
    t.jsonb('events'); // OTLP span events, null when none
    t.jsonb('links'); // OTLP span links, null when none
    // Denormalised bpmn.* attributes of the engine's own spans, for per-instance queries.
    t.uuid('instance_id');
    t.text('process_key');
    t.integer('process_version');
    t.text('activity_id');
    t.text('source').notNullable().defaultTo('engine'); // engine | otlp
    t.index(['service_name', 'start_time']);
    t.index(['instance_id']);
    // A span is its (trace, span) pair: a re-sent batch (OTLP retries, at-least-once) is ignored.
    t.unique(['trace_id', 'span_id']);
    t.index(['process_key', 'process_version']);
  });

  await knex.schema.alterTable('process_instances', (t) => {
    t.text('trace_id'); // the instance's trace, chosen at start
    t.text('root_span_id'); // the instance span, emitted when the instance ends
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('process_instances', (t) => {
    t.dropColumn('trace_id');
    t.dropColumn('root_span_id');
  });
  await knex.schema.dropTable('spans');
}
