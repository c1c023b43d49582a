import type { EngineEvent } from './api.js';

/** A page of the app. Views are created once and kept, so the modeler keeps its diagram. */
export interface View {
  readonly element: HTMLElement;
  /** Called on every navigation to the view, with the rest of the hash path. */
  show(params: string[]): void | Promise<void>;
  hide?(): void;
  /** Engine events while the view is shown. */
  onEvent?(event: EngineEvent): void;
}

/** Runs `work` at most once per `ms`, at the end of a burst (events come in bursts). */
export function debounce(work: () => void, ms = 250): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(work, ms);
  };
}
