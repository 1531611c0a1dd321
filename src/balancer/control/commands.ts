/**
 * The control plane's vocabulary: every change of the balancer's state is one of these commands, and
 * every effect of a command is one change event. Both are plain, serialisable data (no class instances,
 * no functions), so another process or machine can replay a command and a viewer can read an event as
 * JSON. Adding an admin action is a new command here plus its case in control-plane.ts.
 */
import type { AlgorithmName, BalancerEvent } from '../../shared/api-types.js';
import type { BalancerConfig } from '../config.js';
import type { ServerInit } from '../server.js';

/** What a server update may change; absent fields stay as they are. */
export interface ServerChange {
  weight?: number;
  drain?: boolean;
  maxConns?: number;
}

export type Command =
  | { type: 'addServer'; server: ServerInit }
  /** `server`: id or `host:port`. */
  | { type: 'removeServer'; server: string }
  | ({ type: 'updateServer'; server: string } & ServerChange)
  | { type: 'setAlgorithm'; algorithm: AlgorithmName }
  /** Counters, history and sessions back to zero. */
  | { type: 'reset' }
  /** A re-read configuration file (reload): applies what changed in the file, keeps runtime changes. */
  | { type: 'applyConfig'; config: BalancerConfig }
  /** An active health check's verdict: the server passed `rise` or failed `fall` checks in a row. */
  | { type: 'setHealth'; server: string; healthy: boolean; detail: string };

export type CommandType = Command['type'];

/**
 * One effect of a command, or an observation of the data path (a circuit opening): exactly what
 * `/lb/history` serves as an event (id, time, type, server, detail, state).
 */
export type ChangeEvent = BalancerEvent;
