import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * prom-client's gauges named like counters (promtool: "non-counter metrics should not have
 * _total suffix"). Each is the sum of a by-type gauge it also exports (nodejs_active_handles,
 * nodejs_active_requests, nodejs_active_resources), so dropping them loses nothing.
 */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * The process's metrics registry: every role registers on it (each bridge's session pool and
 * activity metrics, labelled by bridge_id). Node's process metrics (heap, RSS, event-loop lag,
 * GC) are added only when the metrics listener serves them: their collectors run a histogram
 * timer and a GC observer for the life of the process, wasted when nobody scrapes.
 */
export function createPlatformMetrics(served: boolean): Registry {
  const registry = new Registry();
  if (!served) return registry;
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  return registry;
}
