import type { Pdu } from '../../matrix/pdu.js';

/**
 * The parsed PDU of a cached timeline row, parsed once however many woken syncs count it.
 * Rows of RecentEvents are shared and never change their `json` (a redaction replaces the row
 * object), so the parse is keyed by the row object. The result is shared between callers: read it,
 * never modify it.
 */
const parsedByRow = new WeakMap<{ json: string }, Pdu>();

export function parsedPdu(row: { json: string }): Pdu {
  let pdu = parsedByRow.get(row);
  if (!pdu) {
    pdu = JSON.parse(row.json) as Pdu;
    parsedByRow.set(row, pdu);
  }
  return pdu;
}
