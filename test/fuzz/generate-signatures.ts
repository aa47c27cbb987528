/**
 * p0f.fp-format inputs for the `signatures` fuzz target: honeyport's own
 * signature text (a p0f.fp head before it, with classes and every section
 * kind), cut, with lines swapped, fields replaced by edge values, or bytes
 * mutated. Mostly nearly-valid files, which reach deep into the parser.
 */
import { HONEYPORT_SIGNATURES } from '../../src/fingerprint/honeyport-signatures.js';
import { mutateBytes, type Rng } from './rng.js';

const HEAD = `classes = win,unix,other
[mtu]
label = Ethernet or modem
sig   = 1500
[tcp:request]
label = g:unix:Linux:2.2.x-3.x
sig   = *:64:0:*:*,*:mss,sok,ts,nop,ws:df,id+:0
label = s:win:Windows:7 or 8
sig   = *:128:0:*:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0
[tcp:response]
label = s:unix:Linux:3.x
sig   = *:64:0:*:mss*10,0:mss:df:0
`;

/** honeyport checks only the version field of HTTP signatures (it fingerprints SYNs). */
const HTTP = `[http:request]
ua_os = Linux,Windows
label = s:!:Firefox:10.x or newer
sys   = Windows,@unix
sig   = *:Host,User-Agent:Accept-Charset:Firefox/
`;

const EDGE = ['', '*', '-', '+', '0', '255', '256', '65535', '65536', '99999999999', 'mss*0', 'mtu*1001', '%1', 'eol+', 'eol+300', '?256', 'x', ':', ',', '\u0000', '\u202e', 'df,df', 'ts1-,ts2+,opt+,exws,bad'];

/** `http`: include an [http:request] section (the fuzzer does; the parity test with p0f does not, see HTTP). */
export function generateSignatures(rng: Rng, http = true): Buffer {
  const lines = `${HEAD}${http ? HTTP : ''}${HONEYPORT_SIGNATURES}`.split('\n');
  const edits = 1 + rng.int(4);
  for (let e = 0; e < edits; e++) {
    const i = rng.int(lines.length);
    switch (rng.int(4)) {
      case 0: {
        const j = rng.int(lines.length);
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        break;
      }
      case 1: {
        const fields = lines[i]!.split(/([:,])/);
        fields[rng.int(fields.length)] = rng.pick(EDGE);
        lines[i] = fields.join('');
        break;
      }
      case 2:
        lines.splice(i, 1);
        break;
      default:
        lines.splice(i, 0, lines[rng.int(lines.length)]!);
    }
  }
  const text = Buffer.from(lines.join(rng.chance(0.1) ? '\r\n' : '\n'));
  return rng.chance(0.3) ? mutateBytes(rng, text) : text;
}
