/**
 * Reads one HTTP/1.x answer to a health check as its bytes arrive, just far enough to judge it: the final
 * status, then the end of the body by its framing (RFC 9112 section 6.3: none for 204 and 304, chunked,
 * Content-Length, or the connection's close). Past `bodyLimit` body bytes the status alone decides, so a
 * server streaming without end costs a check no more than that (HAProxy's check buffer bounds its checks
 * the same way). Anything that is not a well-formed answer is an 'unreadable answer', as undici's strict
 * parser said of it when it read the checks.
 *
 * Pure: no sockets, no clock. http-probe.ts feeds it.
 */

/** The verdict on an answer: its final status, or why it could not be read. */
export type AnswerVerdict = { status: number } | { failure: string };

/** Node's and undici's default limit on an answer's head. */
export const HEAD_LIMIT = 16 * 1024;
/** A chunk-size or trailer line longer than this is no answer a health endpoint sends. */
const LINE_LIMIT = 4096;

export const UNREADABLE = 'unreadable answer';
export const HEAD_TOO_LARGE = 'answer headers too large';
export const CLOSED = 'connection closed';

const STATUS_LINE = /^HTTP\/1\.[01] ([1-5]\d\d)(?: [^\r\n]*)?$/;
const FIELD_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\u0000-\u0008\u000a-\u001f\u007f]*?)[ \t]*$/;
// Global, so that a search resumes where the previous one stopped (lastIndex) instead of rescanning.
const HEAD_END = /\r?\n\r?\n/g;
const BARE_CR = /\r[^\n]/g;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,8})[ \t]*(?:;[^\r\n]*)?$/;

const unreadable: AnswerVerdict = { failure: UNREADABLE };

type Phase = 'head' | 'length' | 'until-close' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailer';

export class AnswerReader {
  readonly #bodyLimit: number;
  #phase: Phase = 'head';
  /** The head read so far (latin1: one char per byte). */
  #head = '';
  /** How much of #head was already searched for the head's end: a head trickled in stays linear. */
  #scanned = 0;
  /** Head bytes of interim (1xx) answers already passed. */
  #headBytes = 0;
  #status = 0;
  /** Bytes still due in a Content-Length body, or in the current chunk. */
  #remaining = 0;
  /** A chunk-size or trailer line read so far. */
  #line = '';
  #bodyBytes = 0;

  constructor(bodyLimit: number) {
    this.#bodyLimit = bodyLimit;
  }

  /** The next bytes of the answer: a verdict once there is one, null while more is needed. */
  feed(chunk: Buffer): AnswerVerdict | null {
    if (this.#phase !== 'head') return this.#body(chunk);
    this.#head += chunk.toString('latin1');
    return this.#readHeads();
  }

  /** The server closed the connection: only a body that runs to the close is complete there. */
  end(): AnswerVerdict {
    return this.#phase === 'until-close' ? { status: this.#status } : { failure: CLOSED };
  }

  #readHeads(): AnswerVerdict | null {
    for (;;) {
      // Fail at once on what cannot become a status line, rather than at the deadline.
      if (!'HTTP/'.startsWith(this.#head.slice(0, 5))) return unreadable;
      // A separator may straddle two reads: resume a few bytes back.
      const from = Math.max(0, this.#scanned - 3);
      BARE_CR.lastIndex = from;
      if (BARE_CR.test(this.#head)) return unreadable;
      HEAD_END.lastIndex = from;
      const end = HEAD_END.exec(this.#head);
      if (end === null) {
        this.#scanned = this.#head.length;
        return this.#headBytes + this.#head.length > HEAD_LIMIT ? { failure: HEAD_TOO_LARGE } : null;
      }
      this.#scanned = 0;
      const headLength = end.index + end[0].length;
      this.#headBytes += headLength;
      if (this.#headBytes > HEAD_LIMIT) return { failure: HEAD_TOO_LARGE };
      const fields = parseHead(this.#head.slice(0, end.index));
      const rest = this.#head.slice(headLength);
      this.#head = '';
      if (fields === null) return unreadable;
      const status = fields.status;
      if (status < 200) {
        // 100 and 101 answer an Expect or an Upgrade, and a check sends neither; other 1xx (103 Early
        // Hints) precede the real answer.
        if (status === 100 || status === 101) return unreadable;
        this.#head = rest;
        continue;
      }
      this.#status = status;
      const framing = framingOf(status, fields.contentLength, fields.transferEncoding);
      if (framing === null) return unreadable;
      if (framing === 'none' || framing === 0) return { status };
      if (typeof framing === 'number') {
        this.#phase = 'length';
        this.#remaining = framing;
      } else {
        this.#phase = framing === 'chunked' ? 'chunk-size' : framing;
      }
      return rest.length > 0 ? this.#body(Buffer.from(rest, 'latin1')) : null;
    }
  }

  #body(chunk: Buffer): AnswerVerdict | null {
    this.#bodyBytes += chunk.length;
    const verdict = this.#frame(chunk);
    if (verdict !== null) return verdict;
    return this.#bodyBytes > this.#bodyLimit ? { status: this.#status } : null;
  }

  /** Follows the body's framing through `chunk`: a verdict when the body ends or breaks, else null. */
  #frame(chunk: Buffer): AnswerVerdict | null {
    if (this.#phase === 'until-close') return null;
    if (this.#phase === 'length') {
      this.#remaining -= chunk.length;
      return this.#remaining <= 0 ? { status: this.#status } : null;
    }
    let at = 0;
    while (at < chunk.length) {
      if (this.#phase === 'chunk-data') {
        const take = Math.min(this.#remaining, chunk.length - at);
        at += take;
        this.#remaining -= take;
        if (this.#remaining === 0) this.#phase = 'chunk-end';
        continue;
      }
      const newline = chunk.indexOf(10, at);
      this.#line += chunk.toString('latin1', at, newline === -1 ? chunk.length : newline);
      if (this.#line.length > LINE_LIMIT) return unreadable;
      if (newline === -1) return null;
      at = newline + 1;
      const line = this.#line.endsWith('\r') ? this.#line.slice(0, -1) : this.#line;
      this.#line = '';
      const verdict = this.#chunkLine(line);
      if (verdict !== null) return verdict;
    }
    return null;
  }

  /** One line of chunked framing: a chunk's size, the end of its data, or a trailer line. */
  #chunkLine(line: string): AnswerVerdict | null {
    if (this.#phase === 'chunk-end') {
      if (line !== '') return unreadable;
      this.#phase = 'chunk-size';
      return null;
    }
    if (this.#phase === 'trailer') {
      if (line === '') return { status: this.#status };
      return FIELD_LINE.test(line) ? null : unreadable;
    }
    const size = CHUNK_SIZE.exec(line);
    if (size === null) return unreadable;
    this.#remaining = Number.parseInt(size[1] as string, 16);
    this.#phase = this.#remaining === 0 ? 'trailer' : 'chunk-data';
    return null;
  }
}

interface Head {
  status: number;
  contentLength: string[];
  transferEncoding: string[];
}

/** The status line and the framing fields of one head; null when it is not a well-formed HTTP/1.x head. */
function parseHead(text: string): Head | null {
  const lines = text.split(/\r?\n/);
  const statusLine = STATUS_LINE.exec(lines[0] as string);
  if (statusLine === null) return null;
  const head: Head = { status: Number(statusLine[1]), contentLength: [], transferEncoding: [] };
  for (let i = 1; i < lines.length; i++) {
    // Folded lines (obs-fold) start with a space and fail here, as they do in strict parsers.
    const field = FIELD_LINE.exec(lines[i] as string);
    if (field === null) return null;
    const name = (field[1] as string).toLowerCase();
    if (name === 'content-length') head.contentLength.push(field[2] as string);
    else if (name === 'transfer-encoding') head.transferEncoding.push(field[2] as string);
  }
  return head;
}

/**
 * How the body of a final answer ends: 'none', a byte count, 'chunked', or the connection's close; null
 * for framing a careful parser refuses (both Content-Length and Transfer-Encoding, the request-smuggling
 * sign; Content-Lengths that disagree or are not numbers).
 */
function framingOf(status: number, contentLength: string[], transferEncoding: string[]): 'none' | number | 'chunked' | 'until-close' | null {
  if (status === 204 || status === 304) return 'none';
  if (transferEncoding.length > 0) {
    if (contentLength.length > 0) return null;
    const codings = transferEncoding.join(',').split(',').map((c) => c.trim().toLowerCase());
    return codings.at(-1) === 'chunked' ? 'chunked' : 'until-close';
  }
  if (contentLength.length === 0) return 'until-close';
  const values = new Set(contentLength.join(',').split(',').map((v) => v.trim()));
  if (values.size !== 1) return null;
  const [value] = [...values];
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : null;
}
