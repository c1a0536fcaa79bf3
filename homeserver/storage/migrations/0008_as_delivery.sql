-- Appservice delivery (appservice-api/delivery). One row per appservice: the last hs_events
-- stream_ordering it acknowledged, and the transaction in flight (its txnId and the exact event ids
-- it carries) so a retry after a failure or a restart re-sends the SAME txnId with the SAME events.
CREATE TABLE as_delivery_state (
  appservice_id     TEXT PRIMARY KEY,
  position          BIGINT NOT NULL,            -- everything <= position is delivered (or of no interest)
  txn_counter       BIGINT NOT NULL DEFAULT 0,  -- txnIds are "<counter>", never reused per appservice
  pending_txn_id    TEXT,                       -- the transaction in flight, NULL when none
  pending_to        BIGINT,                     -- position once the pending transaction is acknowledged
  pending_event_ids TEXT[],                     -- the events it carries, in stream order
  -- MSC2409 ephemeral events (receive_ephemeral): typing and receipt stream positions, and the
  -- ephemeral section of the pending transaction as sent (so a retry is byte-for-byte the same).
  receipt_position  BIGINT NOT NULL DEFAULT 0,
  typing_position   BIGINT NOT NULL DEFAULT 0,
  pending_receipt_to BIGINT,
  pending_typing_to  BIGINT,
  pending_ephemeral JSONB,
  updated_ts        BIGINT NOT NULL
);
