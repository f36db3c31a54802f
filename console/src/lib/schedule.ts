// The frequency helper: a job's `frequency` (manual, every N units, a cron) and its next runs.
// The API normalizes and validates the frequency (its schedule_expression is the truth); this only
// previews it, in UTC as EventBridge Scheduler runs it.

export type Unit = "minutes" | "hours" | "days" | "weeks" | "months";
export const UNITS: Unit[] = ["minutes", "hours", "days", "weeks", "months"];

export type Frequency =
  | { mode: "manual" }
  | { mode: "every"; n: number; unit: Unit }
  | { mode: "cron"; expression: string };

const EVERY = /^([1-9][0-9]*)-(minutes|hours|days|weeks|months)$/;
const RATE = /^rate\(([1-9][0-9]*)\s+(minute|minutes|hour|hours|day|days)\)$/;

export function parseFrequency(text: string): Frequency {
  const value = text.trim();
  if (!value || value === "manual") return { mode: "manual" };
  const every = EVERY.exec(value);
  if (every) return { mode: "every", n: Number(every[1]), unit: every[2] as Unit };
  const rate = RATE.exec(value);
  if (rate) return { mode: "every", n: Number(rate[1]), unit: (rate[2].replace(/s$/, "") + "s") as Unit };
  return { mode: "cron", expression: value };
}

export function formatFrequency(f: Frequency): string {
  if (f.mode === "manual") return "manual";
  if (f.mode === "every") return `${f.n}-${f.unit}`;
  return f.expression.trim();
}

const MINUTE = 60_000;
const STEP: Record<Exclude<Unit, "months">, number> = {
  minutes: MINUTE,
  hours: 60 * MINUTE,
  days: 1440 * MINUTE,
  weeks: 10080 * MINUTE,
};

/** The next `count` run times after `from`, or an error message when the cron cannot be read. */
export function nextRuns(f: Frequency, from: Date, count = 5): Date[] | string {
  if (f.mode === "manual") return [];
  if (f.mode === "every") return everyN(f.n, f.unit, from, count);
  try {
    return cronRuns(toFields(f.expression), from, count);
  } catch (error) {
    return (error as Error).message;
  }
}

function everyN(n: number, unit: Unit, from: Date, count: number): Date[] {
  const out: Date[] = [];
  for (let k = 1; k <= count; k++) {
    if (unit === "months") {
      const d = new Date(from);
      d.setUTCMonth(d.getUTCMonth() + n * k);
      out.push(d);
    } else out.push(new Date(from.getTime() + n * k * STEP[unit]));
  }
  return out;
}

interface Fields {
  minute: Set<number> | null;
  hour: Set<number> | null;
  dom: Set<number> | null;
  month: Set<number> | null;
  dow: Set<number> | null; // 0 = Sunday
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/** A 5-field Unix cron, or AWS's cron(min hour dom month dow year) with 1 = Sunday. */
function toFields(expression: string): Fields {
  const aws = /^cron\((.+)\)$/.exec(expression.trim());
  const parts = (aws ? aws[1] : expression).trim().split(/\s+/);
  if (parts.length !== (aws ? 6 : 5)) {
    throw new Error(aws ? "cron(...) takes 6 fields" : "a cron takes 5 fields: minute hour day month weekday");
  }
  const dowShift = aws ? -1 : 0;
  return {
    minute: field(parts[0], 0, 59),
    hour: field(parts[1], 0, 23),
    dom: field(parts[2], 1, 31),
    month: field(parts[3], 1, 12, MONTHS, 1),
    dow: shift(field(parts[4], aws ? 1 : 0, aws ? 7 : 6, DAYS, aws ? 1 : 0), dowShift),
  };
}

function shift(values: Set<number> | null, by: number): Set<number> | null {
  return values ? new Set([...values].map((v) => (v + by + 7) % 7)) : null;
}

function field(expr: string, low: number, high: number, names?: string[], base = 0): Set<number> | null {
  if (expr === "*" || expr === "?") return null;
  const values = new Set<number>();
  for (const part of expr.split(",")) {
    const [range, stepText] = part.split("/");
    const step = stepText === undefined ? 1 : number(stepText);
    if (step < 1) throw new Error(`a step must be at least 1: ${expr}`);
    let start = low;
    let end = high;
    if (range !== "*") {
      const [a, b] = range.split("-");
      start = value(a, names, base);
      end = b === undefined ? (stepText === undefined ? start : high) : value(b, names, base);
    }
    if (start < low || end > high || start > end) throw new Error(`out of range: ${expr}`);
    for (let v = start; v <= end; v += step) values.add(v);
  }
  return values;
}

function value(token: string, names: string[] | undefined, base: number): number {
  const i = names ? names.indexOf(token.toUpperCase()) : -1;
  return i >= 0 ? i + base : number(token);
}

function number(token: string): number {
  if (!/^[0-9]{1,4}$/.test(token)) throw new Error(`not a number: ${token}`);
  return Number(token);
}

function cronRuns(f: Fields, from: Date, count: number): Date[] {
  const out: Date[] = [];
  const t = new Date(Math.floor(from.getTime() / MINUTE) * MINUTE + MINUTE);
  for (let i = 0; i < 527_040 && out.length < count; i++) {
    if (matches(f, t)) out.push(new Date(t));
    t.setTime(t.getTime() + MINUTE);
  }
  return out;
}

function matches(f: Fields, t: Date): boolean {
  const has = (s: Set<number> | null, v: number) => s === null || s.has(v);
  if (!has(f.minute, t.getUTCMinutes()) || !has(f.hour, t.getUTCHours()) || !has(f.month, t.getUTCMonth() + 1)) {
    return false;
  }
  const dom = has(f.dom, t.getUTCDate());
  const dow = has(f.dow, t.getUTCDay());
  // Unix cron: when both day fields are restricted, either may match.
  return f.dom !== null && f.dow !== null ? dom || dow : dom && dow;
}
