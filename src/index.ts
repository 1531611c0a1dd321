/** The embedding API: start the balancer or a test server from your own code. */
export { startBalancer, type BalancerHandle, type BalancerEvents, type ServerStateEvent, type StartOptions } from './balancer/balancer.js';
export { configFrom, resolveConfig, loadConfig, DEFAULT_CONFIG, type BalancerConfig, type ConfigFlags } from './balancer/config.js';
export type { RequestEvent } from './balancer/outcome.js';
export { AccessLog } from './balancer/access-log.js';
export { startTestServer, type TestServerHandle, type TestServerOptions } from './testserver/server.js';
export { LbError, type LbErrorCode } from './shared/errors.js';
export * from './shared/api-types.js';
