/**
 * The few DOM helpers the page needs. Every value from the API goes in as text (textContent), never as
 * HTML; every element the script uses is looked up once, by id, and checked to be the kind the script
 * expects, so a page and a script that disagree fail at load with the id named, not later and silently.
 */

/** The element with this id in index.html, of this kind (HTMLInputElement, HTMLButtonElement...). */
export function byId<T extends HTMLElement>(id: string, kind: { new (): T; readonly name: string }): T {
  const node = document.getElementById(id);
  if (!(node instanceof kind)) throw new Error(`#${id}: index.html should have a ${kind.name} here, found ${node === null ? 'nothing' : node.tagName}`);
  return node;
}

/** A new element holding `text` as text. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string | null, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className !== undefined) node.className = className;
  return node;
}

/**
 * Sets `text` as the node's text, with a line-break opportunity (<wbr>) after each underscore, so a
 * name like least_connections wraps as "least_ / connections" in a narrow box, never mid-word. The
 * node's textContent is `text` exactly.
 */
export function breakableText(node: HTMLElement, text: string): void {
  const parts = text.split(/(?<=_)/);
  node.replaceChildren(...parts.flatMap((part, i) => (i === 0 ? [part] : [document.createElement('wbr'), part])));
}

/** A button that does not submit the form around it. */
export function button(label: string, className: string, onClick: () => void): HTMLButtonElement {
  const node = el('button', label, className);
  node.type = 'button';
  node.addEventListener('click', onClick);
  return node;
}

/** A message in the corner for a few seconds; errors stay longer and are announced as alerts. */
export function toast(container: HTMLElement, message: string, isError = false): void {
  const node = el('div', message, isError ? 'toast error' : 'toast');
  node.setAttribute('role', isError ? 'alert' : 'status');
  container.append(node);
  setTimeout(() => node.remove(), isError ? 7000 : 4000);
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
