#!/usr/bin/env -S node --initial-old-space-size=64
// Tiny shim: the CLI lives in the compiled dist/ (run `npm install` or `npm run build` first).
import { tuneForServing } from '../dist/shared/memory-tuning.js';

// Process-wide memory settings for `lb serve` have to come before the CLI's modules load: V8 sizes its
// old generation at the first full collection, which happens while they load (see memory-tuning.ts).
// The V8 flag rides on the line above when lb runs as `lb`/`npx lb`; under `node bin/lb.js` it is set
// here, which works most of the time but not always.
if (process.argv.slice(2).find((arg) => !arg.startsWith('-')) === 'serve') tuneForServing();
const { main } = await import('../dist/cli.js');
main(process.argv.slice(2));
