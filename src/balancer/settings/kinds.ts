/**
 * Value kinds for the settings table: each parses what a file (JSON), an environment variable or a flag
 * (strings) gives, and formats a value back for help text, the README and `GET /lb/config`. Durations
 * accept `2s`, `500ms`, `1m` or a bare number of seconds, in files and flags alike.
 */

export interface Kind<T> {
  /** For messages and help: "an integer 1-65535", "a duration". */
  readonly text: string;
  /** Throws a one-line reason (without the setting's name, which the caller adds). */
  parse(raw: unknown): T;
  /** As a user would write it: `30s`, `round_robin`, `true`. */
  format(value: T): string;
  /** As the servers file holds it (JSON), for `GET /lb/config`. */
  toFile(value: T): unknown;
}

export class SettingProblem extends Error {
  /** Where inside the value the problem is (`[2]` for a list item), appended to the setting's path. */
  constructor(message: string, readonly subpath = '') {
    super(message);
  }
}

const got = (raw: unknown): string => JSON.stringify(typeof raw === 'string' && raw.length > 80 ? `${raw.slice(0, 80)}...` : raw) ?? String(raw);

function numeric(raw: unknown): number {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string' && raw.trim() !== '' && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw.trim())) return Number(raw);
  return Number.NaN;
}

export function int(min: number, max: number): Kind<number> {
  const text = `an integer ${min}-${max}`;
  return {
    text,
    parse(raw) {
      const n = numeric(raw);
      if (!Number.isInteger(n) || n < min || n > max) throw new SettingProblem(`must be ${text}, got ${got(raw)}`);
      return n;
    },
    format: String,
    toFile: (v) => v,
  };
}

export function num(min: number, max: number, what = 'a number'): Kind<number> {
  const text = `${what} ${min}-${max}`;
  return {
    text,
    parse(raw) {
      const n = numeric(raw);
      if (!Number.isFinite(n) || n < min || n > max) throw new SettingProblem(`must be ${text}, got ${got(raw)}`);
      return n;
    },
    format: String,
    toFile: (v) => v,
  };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Stored as whole milliseconds. */
export function duration(minMs: number, maxMs: number): Kind<number> {
  const text = `a duration ${formatMs(minMs)}-${formatMs(maxMs)} (like 2s, 500ms, 1m, or seconds)`;
  return {
    text,
    parse(raw) {
      let ms = Number.NaN;
      if (typeof raw === 'number' && Number.isFinite(raw)) ms = Math.round(raw * 1000);
      else if (typeof raw === 'string') {
        const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?\s*$/.exec(raw);
        if (match !== null) ms = Math.round(Number(match[1]) * UNIT_MS[match[2] ?? 's']!);
      }
      if (Number.isNaN(ms) || ms < minMs || ms > maxMs) throw new SettingProblem(`must be ${text}, got ${got(raw)}`);
      return ms;
    },
    format: formatMs,
    toFile: (v) => v / 1000,
  };
}

export function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0 && ms >= 3_600_000) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export const bool: Kind<boolean> = {
  text: 'true or false',
  parse(raw) {
    if (typeof raw === 'boolean') return raw;
    if (typeof raw === 'string') {
      const text = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(text)) return true;
      if (['false', '0', 'no', 'off'].includes(text)) return false;
    }
    throw new SettingProblem(`must be true or false, got ${got(raw)}`);
  },
  format: String,
  toFile: (v) => v,
};

export function oneOf<const T extends string>(values: readonly T[]): Kind<T> {
  const text = `one of ${values.join(', ')}`;
  return {
    text,
    parse(raw) {
      if (typeof raw !== 'string' || !(values as readonly string[]).includes(raw)) throw new SettingProblem(`must be ${text}, got ${got(raw)}`);
      return raw as T;
    },
    format: (v) => v,
    toFile: (v) => v,
  };
}

/** A string checked by `check` (which returns the stored value or throws a SettingProblem). */
export function text<T = string>(description: string, check: (value: string) => T, format: (v: T) => string = String, toFile: (v: T) => unknown = (v) => v): Kind<T> {
  return {
    text: description,
    parse(raw) {
      if (typeof raw !== 'string' || raw.trim() === '') throw new SettingProblem(`must be ${description}, got ${got(raw)}`);
      return check(raw.trim());
    },
    format,
    toFile,
  };
}

/** A value that may be absent (null): `none` in help; an empty string or null clears it. */
export function optional<T>(kind: Kind<T>): Kind<T | null> {
  return {
    text: kind.text,
    parse: (raw) => (raw === null ? null : kind.parse(raw)),
    format: (v) => (v === null ? 'none' : kind.format(v)),
    toFile: (v) => (v === null ? null : kind.toFile(v)),
  };
}

/** A comma-separated list (flags, env) or a JSON list (file) of items of one kind. */
export function list<T>(item: Kind<T>, description: string): Kind<T[]> {
  return {
    text: description,
    parse(raw) {
      const items = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : raw;
      if (!Array.isArray(items)) throw new SettingProblem(`must be ${description}, got ${got(raw)}`);
      return items.map((entry, i) => {
        try {
          return item.parse(entry);
        } catch (err) {
          throw new SettingProblem((err as Error).message, `[${i}]`);
        }
      });
    },
    format: (v) => (v.length === 0 ? 'none' : v.map(item.format).join(',')),
    toFile: (v) => v.map(item.toFile),
  };
}

/**
 * The candidate closest to a mistyped name, for "did you mean": a third of the name may differ ("wieght",
 * two edits, still finds "weight"); undefined when none is that close.
 */
export function closestName(typed: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.ceil(typed.length / 3));
  return candidates.filter((c) => editDistance(c, typed) <= limit).sort((a, b) => editDistance(a, typed) - editDistance(b, typed))[0];
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
