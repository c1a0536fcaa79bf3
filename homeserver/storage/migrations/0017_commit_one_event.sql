-- One message appended to one room: the send path when the server is not busy (EventCommitter's
-- writeOneEvent), the statement each lone send waits for.
--
-- It is the one-room, one-event form of the batch statement in event-committer.ts
-- (writeSimpleBatch) and must keep its semantics: the client transaction id is checked first
-- (`dup`: nothing is written and the first event's id comes back), the room head is
-- compare-and-set (`cas`: no row when another writer moved it, so the caller rebuilds), the events
-- stream lock is taken only after the head row is locked (`lk`, read by both inserts, so the
-- position is drawn under the lock; see stream-lock.ts), and the event and its transaction id are
-- written in the same implicit transaction.
--
-- Why a function: the batch statement takes arrays, and connections run with
-- plan_cache_mode = force_custom_plan so that it is planned for the actual array sizes (generic
-- plans were measured to regress the batched write path). Planning that six-CTE statement cost
-- ~0.3 ms of every lone send. This form has only scalars, so one generic plan fits every call:
-- PL/pgSQL keeps it per connection, and the SET clause below lets it do so whatever the
-- connection's plan_cache_mode is.
CREATE FUNCTION hs_commit_one_event(
  p_room TEXT, p_expected_head TEXT, p_event_id TEXT, p_depth BIGINT, p_stream_lock TEXT,
  p_type TEXT, p_sender TEXT, p_origin_server_ts BIGINT, p_json TEXT, p_unsigned TEXT,
  p_txn_device TEXT, p_txn_id TEXT, p_silent BOOLEAN, p_now BIGINT)
  RETURNS TABLE (event_id TEXT, stream_ordering BIGINT, room_id TEXT, us TEXT, dv TEXT, ti TEXT)
  LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH dup AS MATERIALIZED (
    SELECT t.event_id FROM hs_event_txns t
    WHERE p_txn_id IS NOT NULL AND t.user_id = p_sender AND t.device_id = p_txn_device AND t.txn_id = p_txn_id),
  cas AS (
    UPDATE hs_rooms r SET head_event_id = p_event_id, head_depth = p_depth
    WHERE r.room_id = p_room AND r.head_event_id = p_expected_head AND NOT EXISTS (SELECT 1 FROM dup)
    RETURNING r.room_id),
  lk AS MATERIALIZED (
    SELECT pg_advisory_xact_lock(hashtext(p_stream_lock)) AS locked FROM cas),
  ins AS (
    INSERT INTO hs_events AS e (event_id, room_id, type, state_key, sender, origin_server_ts, depth, json, unsigned,
      txn_device, txn_id, silent)
    SELECT p_event_id, p_room, p_type, NULL, p_sender, p_origin_server_ts, p_depth, p_json, p_unsigned,
      p_txn_device, p_txn_id, p_silent FROM lk
    RETURNING e.event_id, e.stream_ordering, e.room_id),
  txns AS (
    INSERT INTO hs_event_txns (user_id, device_id, txn_id, event_id, created_ts)
    SELECT p_sender, p_txn_device, p_txn_id, p_event_id, p_now FROM lk WHERE p_txn_id IS NOT NULL
    ON CONFLICT DO NOTHING)
  SELECT ins.event_id, ins.stream_ordering, ins.room_id, NULL::TEXT, NULL::TEXT, NULL::TEXT FROM ins
  UNION ALL
  SELECT dup.event_id, NULL::BIGINT, p_room, p_sender, p_txn_device, p_txn_id FROM dup;
END
$fn$;
