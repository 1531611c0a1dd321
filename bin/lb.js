#!/usr/bin/env -S node --initial-old-space-size=64 --interrupt-budget=16384
// Tiny shim: the CLI lives in the compiled dist/ (run `npm install` or `npm run build` first).
import { tuneForServing } from '../dist/shared/process-tuning.js';

// Process-wide settings for `lb serve` have to come before the CLI's modules load: V8 sizes its old
// generation at the first full collection, which happens while they load (see process-tuning.ts).
// The V8 flags ride on the line above when lb runs as `lb`/`npx lb`; under `node bin/lb.js` they are
// set here, which works for the JIT budget and most of the time for the old-space size.
if (process.argv.slice(2).find((arg) => !arg.startsWith('-')) === 'serve') tuneForServing();
const { main } = await import('../dist/cli.js');
main(process.argv.slice(2));
