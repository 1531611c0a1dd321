/**
 * Typed yargs option builders shared by the command modules. Numbers are checked here, so `--port abc`
 * or `--delay -1` is a one-line usage error naming the flag, never a NaN that travels into the core.
 */
import type { Options } from 'yargs';
import { LbError } from './errors.js';

export interface NumberRange {
  min: number;
  max: number;
  integer?: boolean;
}

function checkNumber(flag: string, range: NumberRange) {
  return (value: unknown): number | undefined => {
    if (value === undefined) return undefined;
    if (Array.isArray(value)) throw new LbError('LB_USAGE', `--${flag} given more than once`);
    const n = typeof value === 'number' ? value : Number(value);
    const whole = range.integer === true;
    if (!Number.isFinite(n) || (whole && !Number.isInteger(n)) || n < range.min || n > range.max) {
      const kind = whole ? 'an integer' : 'a number';
      throw new LbError('LB_USAGE', `--${flag} must be ${kind} ${range.min}-${range.max}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

/** A number option; `shownDefault` is what help prints, without making yargs fill the value in. */
export function numberOption(flag: string, describe: string, range: NumberRange, shownDefault?: string): Options {
  return {
    type: 'string',
    describe: shownDefault === undefined ? describe : `${describe} [default: ${shownDefault}]`,
    coerce: checkNumber(flag, range),
    requiresArg: true,
  };
}

export function portOption(flag: string, describe: string, shownDefault?: string): Options {
  return numberOption(flag, describe, { min: 0, max: 65535, integer: true }, shownDefault);
}

/** A single-valued string option: given twice, it is a usage error rather than a surprise array. */
export function stringOption(flag: string, describe: string, shownDefault?: string): Options {
  return {
    type: 'string',
    describe: shownDefault === undefined ? describe : `${describe} [default: ${shownDefault}]`,
    requiresArg: true,
    coerce: (value: unknown) => {
      if (Array.isArray(value)) throw new LbError('LB_USAGE', `--${flag} given more than once`);
      return value;
    },
  };
}
