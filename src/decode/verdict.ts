/**
 * Outcome of one parsing step. Separate from DecodeStatus because the
 * decoder must tell "the bytes are wrong" (malformed) from "the capture
 * stopped early" (truncated) to keep its counters honest.
 */
export const enum Parse {
  Ok = 1,
  Malformed = -1,
  /** The capture ended before the bytes this step needs. */
  Truncated = -2,
}
