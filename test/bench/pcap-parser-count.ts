/** Reads a classic pcap with pcap-parser and prints the packet count (benchmark baseline). */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pcapParser = require('pcap-parser') as { parse(path: string): NodeJS.EventEmitter };
let packets = 0;
const parser = pcapParser.parse(process.argv[2]!);
parser.on('packet', () => { packets++; });
parser.on('end', () => { process.stdout.write(`${packets}\n`); });
