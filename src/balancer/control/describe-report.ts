/** Kept apart from the control plane so `lb serve` can import it at start without the whole balancer. */
import type { ReloadReport } from './reload-plan.js';

/** The reload in one line, for the log and the event history. */
export function describeReport(r: ReloadReport): string {
  const parts = [
    r.added.length ? `+${r.added.join(', +')}` : '',
    r.removed.length ? `-${r.removed.join(', -')}` : '',
    r.updated.length ? `updated ${r.updated.join(', ')}` : '',
    r.algorithm ? `algorithm ${r.algorithm}` : '',
    r.keptRuntime.length ? `kept runtime changes: ${r.keptRuntime.join('; ')}` : '',
    r.overridden.length ? `the file overrode: ${r.overridden.join('; ')}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'no server changes';
}
