import type { EndEventInfo, StartEventInfo } from './start-forms.js';

export interface Finding {
  severity: 'error' | 'warning';
  rule: string;
  elementId?: string;
  message: string;
  /** Where in the XML (1-based), when known: the parse error's position or the element's start tag. */
  line?: number;
  column?: number;
}

export interface ProcessInfo {
  id: string;
  name?: string;
  isExecutable: boolean;
  messageStartEvents: Array<{ activityId: string; messageName: string; messageRefId: string }>;
  signalStartEvents: Array<{ activityId: string; signalName: string; signalRefId: string }>;
  timerStartEvents: Array<{ activityId: string; timerType: 'timeDate' | 'timeDuration' | 'timeCycle'; expression: string }>;
  /** Timer start events of event sub-processes (at any depth); absent in definitions deployed before. */
  eventSubProcessTimerStarts?: Array<{ activityId: string; timerType: 'timeDate' | 'timeDuration' | 'timeCycle'; expression: string }>;
  /** camunda:topic of every external task, for the topic picker and worker checks. */
  externalTopics: string[];
  /** Top-level start events with their triggers and start forms; absent in definitions deployed before. */
  startEvents?: StartEventInfo[];
  /** End events at any depth with their declared outcome; absent in definitions deployed before. */
  endEvents?: EndEventInfo[];
}

export interface DefinitionAnalysis {
  /** False when any finding is an error: nothing may be stored. */
  ok: boolean;
  definitionsId?: string;
  name?: string;
  errors: Finding[];
  warnings: Finding[];
  processes: ProcessInfo[];
  executableProcessIds: string[];
  /** moddle-context-serializer output, so the engine never parses XML again. Only when ok. */
  serializedContext?: string;
}

export interface AnalyseOptions {
  allowScripts?: boolean;
  /** @default 5 MiB */
  maxBytes?: number;
  /** Parsing runs in a worker thread that is replaced when it takes longer. @default 30000 */
  timeoutMs?: number;
}
