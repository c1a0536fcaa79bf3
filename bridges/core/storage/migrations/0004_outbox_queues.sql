-- The outbox dispatches through one job queue per bridge worker (BullMQ with Redis, in-process
-- otherwise). A worker that dies leaves its queue behind; this registry is how the others find
-- such queues and delete them once the worker has been silent for long enough.
CREATE TABLE bridge_outbox_workers (
  bridge_id  TEXT NOT NULL,
  worker_id  TEXT NOT NULL,
  -- the worker's last heartbeat (ms since the epoch)
  seen_ts    BIGINT NOT NULL,
  PRIMARY KEY (bridge_id, worker_id)
);

-- Sent and failed rows are pruned after a retention period, oldest first, in bounded batches.
CREATE INDEX bridge_outbox_done ON bridge_outbox (bridge_id, done_ts) WHERE status <> 'pending';
