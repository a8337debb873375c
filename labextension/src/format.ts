/** Formatting for the panel. Every time in the state tables is naive UTC. */

export function parseUtc(value: string | null): Date | null {
  if (!value) return null;
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : value + 'Z');
  return isNaN(date.getTime()) ? null : date;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** `2024-05-01 11:00` (seconds only when they are not zero), in UTC. */
export function utcText(value: string | null): string {
  const d = parseUtc(value);
  if (!d) return '—';
  const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const secs = d.getUTCSeconds() ? `:${pad(d.getUTCSeconds())}` : '';
  return `${day} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}${secs}`;
}

/** A time of day when `value` is on the day of `now`, else a date and time (UTC). */
export function shortUtcText(value: string | null, now: Date): string {
  const d = parseUtc(value);
  if (!d) return '—';
  const full = utcText(value);
  return d.toISOString().slice(0, 10) === now.toISOString().slice(0, 10)
    ? full.slice(11)
    : full;
}

/** `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`. */
export function durationText(seconds: number | null): string {
  if (seconds === null || !isFinite(seconds)) return '—';
  const s = Math.max(0, seconds);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

export function agoText(value: string | null, now: Date): string {
  const d = parseUtc(value);
  if (!d) return 'never';
  const s = (now.getTime() - d.getTime()) / 1000;
  return s < 5 ? 'just now' : `${durationText(s)} ago`;
}

export function countText(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString('en-US');
}

/** `(09:00, 12:00]`: an INCREMENTAL window is open at its start, closed at its end. */
export function windowText(start: string | null, end: string | null): string | null {
  if (!start && !end) return null;
  const a = start ? utcText(start) : '−∞';
  const b = end ? utcText(end) : '+∞';
  // Drop the shared date: (2024-05-01 09:00, 12:00].
  if (start && end && a.slice(0, 10) === b.slice(0, 10)) {
    return `(${a}, ${b.slice(11)}]`;
  }
  return `(${a}, ${b}]`;
}
