-- Appservice delivery of the side streams (appservice-api/delivery/side-streams.ts): receipts,
-- typing and presence (MSC2409 ephemeral), to-device messages (MSC2409/MSC4203) and device list
-- changes (MSC3202). One position per stream, keyed by stream name, so a new stream needs no
-- migration; a stream missing from the object starts at its current head (no backlog flood).
-- The pending transaction keeps the positions after it and its extra body sections exactly as
-- sent, so a retry re-sends the same txnId with the same content.
ALTER TABLE as_delivery_state
  ADD COLUMN stream_positions JSONB NOT NULL DEFAULT '{}'::jsonb,
  ADD COLUMN pending_stream_positions JSONB,
  ADD COLUMN pending_sections JSONB;

UPDATE as_delivery_state SET
  stream_positions = jsonb_build_object('receipts', receipt_position, 'typing', typing_position),
  pending_stream_positions = CASE WHEN pending_txn_id IS NULL THEN NULL ELSE jsonb_build_object(
    'receipts', COALESCE(pending_receipt_to, receipt_position), 'typing', COALESCE(pending_typing_to, typing_position)) END,
  pending_sections = CASE WHEN pending_ephemeral IS NULL THEN NULL
    ELSE jsonb_build_object('de.sorunome.msc2409.ephemeral', pending_ephemeral) END;

ALTER TABLE as_delivery_state
  DROP COLUMN receipt_position,
  DROP COLUMN typing_position,
  DROP COLUMN pending_receipt_to,
  DROP COLUMN pending_typing_to,
  DROP COLUMN pending_ephemeral;
