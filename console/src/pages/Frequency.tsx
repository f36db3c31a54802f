// The frequency helper: manual, every N units, or a cron; it shows the next runs (UTC).
import { useMemo } from "preact/hooks";
import { SelectField, TextField } from "../components/ui";
import { type Frequency, formatFrequency, nextRuns, parseFrequency, type Unit, UNITS } from "../lib/schedule";

const MODES = [
  { value: "manual", label: "Manual (sync now only)" },
  { value: "every", label: "Every N minutes, hours, days…" },
  { value: "cron", label: "Cron expression" },
];

export function FrequencyHelper({ value, onValue, error, readOnly }: {
  value: string;
  onValue: (frequency: string) => void;
  error?: string;
  readOnly?: boolean;
}) {
  const f = parseFrequency(value);
  const set = (next: Frequency) => onValue(formatFrequency(next));
  const runs = useMemo(() => nextRuns(f, new Date()), [value]);
  const changeMode = (mode: string) =>
    set(mode === "manual" ? { mode } : mode === "every" ? { mode, n: 1, unit: "hours" } : { mode: "cron", expression: "0 * * * *" });
  return (
    <fieldset class="frequency">
      <legend>Frequency</legend>
      <SelectField label="Schedule" value={f.mode} options={MODES} onValue={changeMode} disabled={readOnly} />
      {f.mode === "every" && (
        <div class="row">
          <TextField label="Every" type="number" min="1" value={String(f.n)} readOnly={readOnly}
            onValue={(n) => set({ ...f, n: Math.max(1, Number(n) || 1) })} />
          <SelectField label="Unit" value={f.unit} options={UNITS} disabled={readOnly} onValue={(unit) => set({ ...f, unit: unit as Unit })} />
        </div>
      )}
      {f.mode === "cron" && (
        <TextField label="Cron" value={f.expression} onValue={(expression) => set({ mode: "cron", expression })} readOnly={readOnly}
          hint="minute hour day-of-month month day-of-week (0 = Sunday), in UTC; or cron(...) / rate(...) as AWS writes them" />
      )}
      {error && <small class="error" role="alert">{error}</small>}
      <NextRuns runs={runs} manual={f.mode === "manual"} />
    </fieldset>
  );
}

function NextRuns({ runs, manual }: { runs: Date[] | string; manual: boolean }) {
  if (manual) return <p class="muted">Runs only when you press “Sync now”.</p>;
  if (typeof runs === "string") return <p class="error" role="alert">{runs}</p>;
  return (
    <div aria-live="polite">
      <p class="muted">Next runs (UTC):</p>
      <ol class="next-runs" aria-label="Next runs">
        {runs.map((d) => <li key={d.getTime()}>{d.toISOString().replace("T", " ").slice(0, 16)}</li>)}
      </ol>
    </div>
  );
}
