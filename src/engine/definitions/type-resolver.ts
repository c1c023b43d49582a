import * as elements from 'bpmn-elements';
import { TypeResolver } from 'moddle-context-serializer';
import { GuardedTimerEventDefinition } from './guarded-timer.js';

/**
 * Element types that carry no behaviour of their own but that moddle-context-serializer
 * insists on resolving: data types, resources, reusable global tasks.
 */
const PASSIVE_TYPES = [
  'bpmn:ItemDefinition',
  'bpmn:Resource',
  'bpmn:Interface',
  'bpmn:Operation',
  'bpmn:EndPoint',
  'bpmn:GlobalTask',
  'bpmn:GlobalUserTask',
  'bpmn:GlobalManualTask',
  'bpmn:GlobalScriptTask',
  'bpmn:GlobalBusinessRuleTask',
];

/** The one type resolver: used to serialize at deploy and to deserialize at run time. */
export const typeResolver = TypeResolver({ ...elements, TimerEventDefinition: GuardedTimerEventDefinition } as any, (types: Record<string, unknown>) => {
  for (const type of PASSIVE_TYPES) types[type] ??= (elements as any).Dummy;
});
