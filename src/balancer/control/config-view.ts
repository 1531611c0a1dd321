/**
 * `GET /lb/config`: the running configuration in the servers-file format, so it can be read back, saved
 * and started from. Every setting comes from the settings table (its file path and file form); servers
 * and the algorithm are as they run (runtime changes included). Secrets are redacted.
 */
import type { AlgorithmName } from '../../shared/api-types.js';
import type { BalancerConfig } from '../config.js';
import type { Server } from '../server.js';
import { SETTINGS, type Setting } from '../settings/table.js';

const REDACTED = '<redacted>';
const SECRETS = new Set(['admin.token', 'sticky_sessions.secret']);

export function configView(config: BalancerConfig, servers: readonly Server[], algorithm: AlgorithmName): Record<string, unknown> {
  const view: Record<string, Record<string, unknown>> = {};
  for (const s of SETTINGS as readonly Setting[]) {
    const [section, key] = s.file.split('.') as [string, string];
    const value = s.get(config);
    if (value === null) continue;
    (view[section] ??= {})[key] = SECRETS.has(s.file) ? REDACTED : s.kind.toFile(value);
  }
  view.load_balancer!.algorithm = algorithm;
  return {
    ...view,
    servers: servers.map((s) => ({
      host: s.host,
      port: s.port,
      weight: s.weight,
      ...(s.name !== null ? { name: s.name } : {}),
      ...(s.maxConns !== config.limits.maxConnsPerServer ? { max_conns: s.maxConns } : {}),
      ...(s.origin.startsWith('https:') ? { tls: true } : {}),
      ...(s.sendProxy !== null ? { send_proxy: s.sendProxy } : {}),
    })),
  };
}
