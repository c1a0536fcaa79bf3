import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Delivery metrics on a registry of the delivery service's own (never the global default). */
export class DeliveryMetrics {
  readonly registry = new Registry();
  readonly lagEvents = new Gauge({
    name: 'causeway_appservice_delivery_lag_events',
    help: 'Room events committed but not yet acknowledged by the appservice (stream positions behind)',
    labelNames: ['appservice'],
    registers: [this.registry],
  });
  readonly lagSeconds = new Gauge({
    name: 'causeway_appservice_delivery_lag_seconds',
    help: 'Age of the oldest event in the last acknowledged transaction when it was acknowledged (0 when idle)',
    labelNames: ['appservice'],
    registers: [this.registry],
  });
  readonly transactions = new Counter({
    name: 'causeway_appservice_transactions_sent_total',
    help: 'Transactions acknowledged by appservices',
    labelNames: ['appservice'],
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: 'causeway_appservice_transaction_failures_total',
    help: 'Transaction attempts that failed (non-2xx, timeout, connection error, inproc handler error)',
    labelNames: ['appservice'],
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'causeway_appservice_transaction_events',
    help: 'Events per transaction',
    labelNames: ['appservice'],
    buckets: [1, 2, 5, 10, 20, 50, 100],
    registers: [this.registry],
  });
  readonly eventLag = new Histogram({
    name: 'causeway_appservice_event_delivery_seconds',
    help: 'Time from an event being sent (origin_server_ts) to the appservice acknowledging it',
    labelNames: ['appservice'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300],
    registers: [this.registry],
  });
}
