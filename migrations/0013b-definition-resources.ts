import type { Knex } from 'knex';

/**
 * One row per deployed document, not per process: a 2.1 MB document with 100 processes
 * stored its XML and its serialized context 100 times (212 MB written in one deploy).
 * Versions point at their document by checksum; rows written before keep their own copy.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('definition_resources', (t) => {
    t.text('checksum').primary(); // sha256 of the XML
    t.text('xml').notNullable();
    t.text('source_context'); // serialized moddle context of the whole document, null when not executable
    t.timestamp('stored_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.alterTable('process_definitions', (t) => {
    t.text('xml').nullable().alter();
    t.boolean('shared_resource').notNullable().defaultTo(false);
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
