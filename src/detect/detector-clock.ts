/**
 * The detector's time (µs: packet time in replay, capture time live), one
 * object shared by the modules that read it. A time passed as an argument
 * to a call V8 does not inline is boxed — a heap allocation per packet,
 * which shows as steady scavenges under a flood — while a double field is
 * updated in place; so time lives here and is read, never passed.
 */
export class DetectorClock {
  micros = -Infinity;
}
