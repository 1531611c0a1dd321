/**
 * The settings table as yargs options: one flag per setting, its help line naming its environment
 * variable and default, grouped by the file section it lives in. A bad value is a usage error (exit 2)
 * with the same message the file and the environment get.
 */
import type { Argv, Options } from 'yargs';
import { LbError } from '../../shared/errors.js';
import { envNames, SETTINGS, type Setting } from './table.js';

const GROUP_OF_SECTION: Record<string, string> = {
  load_balancer: 'Proxy and limits:',
  admin: 'Admin API:',
  rate_limit: 'Proxy and limits:',
  health_check: 'Health:',
  circuit_breaker: 'Health:',
  consistent_hash: 'Hashing and sessions:',
  sticky_sessions: 'Hashing and sessions:',
  tls: 'TLS:',
  store: 'Cluster (several instances):',
};

function optionOf(s: Setting): Options {
  const env = envNames(s as (typeof SETTINGS)[number]).join(', ');
  const shown = s.shownDefault ?? s.kind.format(s.default);
  const isBool = typeof s.default === 'boolean';
  return {
    type: isBool ? 'boolean' : 'string',
    describe: `${s.help} (env ${env}) [default: ${shown}]`,
    ...(isBool ? {} : { requiresArg: true }),
    group: GROUP_OF_SECTION[s.file.split('.')[0]!] ?? 'Options:',
    coerce: (value: unknown) => {
      if (Array.isArray(value)) throw new LbError('LB_USAGE', `--${s.flag} given more than once`);
      try {
        s.kind.parse(value);
      } catch (err) {
        throw new LbError('LB_USAGE', `--${s.flag}: ${(err as Error).message}`);
      }
      // The raw value goes on: resolveConfig parses every source the same way.
      return value;
    },
  };
}

export function withSettingOptions<T>(yargs: Argv<T>): Argv<T> {
  let out = yargs;
  for (const s of SETTINGS as readonly Setting[]) out = out.option(s.flag, optionOf(s));
  return out;
}
