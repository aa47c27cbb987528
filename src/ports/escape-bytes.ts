/**
 * Attacker bytes made safe to log: printable ASCII stays readable, the
 * backslash is doubled so the output is unambiguous, everything else is
 * `\xNN`. The output is at most 4 × `length` characters.
 */
const HEX = '0123456789abcdef';

export function escapeBytes(bytes: Uint8Array, length = bytes.length): string {
  const end = Math.min(length, bytes.length);
  let out = '';
  for (let i = 0; i < end; i++) {
    const b = bytes[i]!;
    if (b === 0x5c) out += '\\\\';
    else if (b >= 0x20 && b <= 0x7e) out += String.fromCharCode(b);
    else out += `\\x${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}
