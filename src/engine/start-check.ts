import { AppError } from '../errors.js';
import type { ProcessInfo } from './definitions/analysis-types.js';
import type { FormFieldInfo, StartEventInfo } from './definitions/start-forms.js';
import type { TransitionEvent, Variables } from './types.js';

/** How a start enters the process: nothing (its none start event), a timer that fires now, a message or a signal. */
export interface StartTrigger {
  dueNow?: string;
  event?: TransitionEvent;
}

/**
 * Checks a start before anything runs: which start event it enters by and whether the start
 * variables that event's form declares (`camunda:formData`) are there and of their types.
 * `startEventId` picks a timer, message or signal start event and fires it now ("run now").
 * A start that could never move (no none start event, none picked) is refused rather than
 * left waiting. Definitions deployed before start events were described pass unchecked.
 */
export function checkStart(definition: { id: string; key: string; info?: unknown }, options: { variables?: Variables; startEventId?: string }): StartTrigger {
  const info = (typeof definition.info === 'string' ? JSON.parse(definition.info) : definition.info) as ProcessInfo | undefined;
  const starts = info?.startEvents;
  if (!starts) {
    if (options.startEventId) throw new AppError('VALIDATION_FAILED', `process definition ${definition.id} was deployed before start events were described; deploy it again to run a start event now`);
    return {};
  }
  let start: StartEventInfo | undefined;
  if (options.startEventId) {
    start = starts.find((candidate) => candidate.activityId === options.startEventId);
    if (!start) {
      throw new AppError('VALIDATION_FAILED', `process ${definition.key} has no start event '${options.startEventId}' (it has ${starts.map((s) => `${s.activityId} (${s.trigger})`).join(', ') || 'none'})`, {
        details: { startEvents: starts.map(({ activityId, trigger }) => ({ activityId, trigger })) },
      });
    }
  } else {
    start = starts.find((candidate) => candidate.trigger === 'none');
    if (!start && starts.length) {
      const listed = starts.map((s) => `${s.trigger} start event '${s.activityId}'`).join(', ');
      throw new AppError(
        'START_EVENT_REQUIRED',
        `process ${definition.key} has no plain start event, so a plain start would wait forever; it starts by ${listed}. ` +
          `Run it now with POST /api/process-definitions/key/${definition.key}/run-now (or give startEventId), or send the message it waits for`,
        { details: { startEvents: starts.map(({ activityId, trigger }) => ({ activityId, trigger })) } },
      );
    }
  }
  if (start) checkVariables(definition.key, start, options.variables ?? {});
  if (!start || !options.startEventId) return {};
  switch (start.trigger) {
    case 'timer':
      return { dueNow: start.activityId };
    case 'message': {
      const message = info?.messageStartEvents.find((candidate) => candidate.activityId === start.activityId);
      if (!message) break;
      return { event: { type: 'deliver-message', refId: message.messageRefId ?? message.messageName, variables: {} } };
    }
    case 'signal': {
      const signal = info?.signalStartEvents.find((candidate) => candidate.activityId === start.activityId);
      if (!signal) break;
      return { event: { type: 'deliver-signal', refId: signal.signalRefId ?? signal.signalName, variables: {} } };
    }
    case 'none':
      return {};
  }
  throw new AppError('VALIDATION_FAILED', `start event '${start.activityId}' of ${definition.key} cannot be run by hand (${start.trigger})`);
}

/** 400 naming every missing required start variable and every one of the wrong type. */
export function checkVariables(processKey: string, start: StartEventInfo, variables: Variables): void {
  const missing: string[] = [];
  const invalid: Array<{ name: string; expected: string }> = [];
  for (const field of start.fields) {
    const value = variables[field.id];
    if (value === undefined || value === null || value === '') {
      if (field.required && field.defaultValue === undefined) missing.push(field.id);
      continue;
    }
    const expected = typeProblem(field, value);
    if (expected) invalid.push({ name: field.id, expected });
  }
  if (!missing.length && !invalid.length) return;
  const parts = [
    missing.length ? `missing ${missing.map((name) => `'${name}'`).join(', ')}` : '',
    ...invalid.map(({ name, expected }) => `'${name}' must be ${expected}`),
  ].filter(Boolean);
  throw new AppError('VALIDATION_FAILED', `start variables of ${processKey} (start event ${start.activityId}): ${parts.join('; ')}`, {
    details: { startEventId: start.activityId, missing, invalid, fields: start.fields },
  });
}

function typeProblem(field: FormFieldInfo, value: unknown): string | null {
  switch (field.type) {
    case 'long':
      return Number.isSafeInteger(typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value) ? null : 'a whole number';
    case 'double':
      return typeof value === 'number' && Number.isFinite(value) ? null : 'a number';
    case 'boolean':
      return typeof value === 'boolean' ? null : 'true or false';
    case 'date':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? null : 'a date (ISO 8601 text)';
    case 'enum':
      return field.values?.some((choice) => choice.id === value) ? null : `one of ${(field.values ?? []).map((choice) => `'${choice.id}'`).join(', ')}`;
    case 'json':
      return typeof value === 'object' ? null : 'a JSON object or array';
    case 'string':
      return typeof value === 'string' ? null : 'text';
    default:
      return null;
  }
}
