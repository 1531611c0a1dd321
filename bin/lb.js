#!/usr/bin/env node
// Tiny shim: the CLI lives in the compiled dist/ (run `npm install` or `npm run build` first).
import { main } from '../dist/cli.js';

main(process.argv.slice(2));
