/** The README's settings table, made from the settings table (`npm run settings-table` prints it; a test checks the README has it). */
import { envNames, SETTINGS, type Setting } from './table.js';

export function settingsMarkdown(): string {
  const rows = (SETTINGS as readonly Setting[]).map((s) => {
    const env = envNames(s as (typeof SETTINGS)[number]).map((e) => `\`${e}\``).join(', ');
    const file = [s.file, ...(s.aliases ?? [])].map((p) => `\`${p}\``).join(' (or ') + (s.aliases?.length ? ')' : '');
    const shown = s.shownDefault ?? s.kind.format(s.default);
    return `| \`--${s.flag}\` | ${env} | ${file} | ${shown} | ${s.live ? 'live' : 'restart'} | ${s.help.replace(/\|/g, '\\|')} |`;
  });
  return ['| flag | environment | file | default | reload | meaning |', '| --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}
