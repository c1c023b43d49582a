import type { Knex } from 'knex';

/**
 * The distinct values of an indexed column by a loose index scan (a recursive CTE that asks
 * the index for the next value above the last one): one probe per value instead of a scan
 * of every row, so listing the systems stays cheap with millions of spans or points.
 */
export async function distinctIndexed(knex: Knex, table: string, column: string): Promise<string[]> {
  const result = await knex.raw(
    `with recursive s as (
       select min(??) as name from ??
       union all select (select min(??) from ?? where ?? > s.name) from s where s.name is not null)
     select name from s where name is not null`,
    [column, table, column, table, column],
  );
  return ((result.rows ?? result) as Array<{ name: string }>).map((row) => row.name);
}
