import { AppError } from '../errors.js';
import type { ResultEntry } from './evaluate-decision.js';

export type MapDecisionResult = 'singleEntry' | 'singleResult' | 'collectEntries' | 'resultList';
export const RESULT_MAPPINGS: readonly MapDecisionResult[] = ['singleEntry', 'singleResult', 'collectEntries', 'resultList'];

/**
 * Camunda 7's `camunda:mapDecisionResult`: what a business rule task stores in its result
 * variable. `resultList` (the default) keeps every entry; the others refuse a result that
 * does not fit (code DECISION_RESULT_MAPPING), as Camunda 7 does.
 */
export function mapDecisionResult(result: ResultEntry[], mapping: MapDecisionResult, decisionKey: string): unknown {
  const refuse = (why: string): never => {
    throw new AppError('DECISION_RESULT_MAPPING', `the result of decision '${decisionKey}' cannot be mapped as ${mapping}: ${why}`, {
      details: { decisionKey, mapping, result },
    });
  };
  switch (mapping) {
    case 'resultList':
      return result;
    case 'singleResult':
      if (result.length > 1) refuse(`${result.length} rules matched`);
      return result[0] ?? null;
    case 'singleEntry': {
      if (result.length > 1) refuse(`${result.length} rules matched`);
      const entry = result[0];
      if (!entry) return null;
      const values = Object.values(entry);
      if (values.length > 1) refuse(`the matched rule has ${values.length} outputs`);
      return values[0] ?? null;
    }
    case 'collectEntries': {
      // As Camunda 7: one output name over all entries (else refused); entries without it are skipped.
      const names = [...new Set(result.flatMap((entry) => Object.keys(entry)))];
      if (names.length > 1) refuse(`the result has the outputs ${names.join(', ')}; collectEntries takes one`);
      const name = names[0];
      return name === undefined ? [] : result.filter((entry) => Object.hasOwn(entry, name)).map((entry) => entry[name] ?? null);
    }
  }
}
