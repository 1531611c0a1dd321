/**
 * JSON.parse for text people write or send (servers files, state files, request bodies): a leading
 * byte-order mark is allowed, as editors on Windows save one, and a syntax error is one line that says
 * where, since V8's message can span lines (it quotes the text around the error, newlines and all).
 */
export function parseJsonText(text: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (err) {
    throw new Error(describeSyntaxError(body, (err as Error).message));
  }
}

function describeSyntaxError(text: string, message: string): string {
  const oneLine = message.replace(/\s+/g, ' ').trim();
  const position = /at position (\d+)/.exec(message);
  if (position === null) return oneLine;
  const before = text.slice(0, Number(position[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `line ${line}, column ${column}: ${oneLine.replace(/ in JSON at position \d+/, '')}`;
}
