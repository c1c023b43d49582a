import type { IncidentStore } from '../../src/store/incident-store.js';
import type { BuiltInRemediation } from './built-in-remediations.js';
import type { IncidentSettings } from './schemas.js';

/** What every incident-response task gets from the incident module (src/modules/incident). */
export interface IncidentTaskDependencies {
  store: IncidentStore;
  /** regenflow's own remediations by topic; any other topic goes to remote workers. */
  remediations: ReadonlyMap<string, BuiltInRemediation>;
  settings: IncidentSettings;
}
