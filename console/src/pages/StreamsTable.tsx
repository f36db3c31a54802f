// The streams of a job: select each, its sync mode, destination mode, primary key and cursor.
import { CheckField, SelectField, TableWrap, TextField } from "../components/ui";

export interface StreamRow {
  stream_name: string;
  namespace: string | null;
  columns: { name: string; type: string }[];
  selected: boolean;
  sync_mode: string;
  destination_sync_mode: string;
  primary_key: string[];
  cursor_field: string | null;
  supported_sync_modes?: string[];
  supported_destination_sync_modes?: string[];
}

const SYNC_MODES = ["full_refresh", "incremental"];
const DEST_MODES = ["append", "overwrite", "upsert"];

export function StreamsTable({ rows, onChange, readOnly }: { rows: StreamRow[]; onChange: (rows: StreamRow[]) => void; readOnly?: boolean }) {
  const set = (i: number, patch: Partial<StreamRow>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  if (rows.length === 0) return <p class="muted">The source has no streams (no files matched).</p>;
  return (
    <TableWrap label="Streams">
      <table class="streams">
        <thead>
          <tr><th>Stream</th><th>Columns</th><th>Sync</th><th>Sync mode</th><th>Destination mode</th><th>Primary key</th><th>Cursor</th></tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={r.stream_name}>
              <td><strong>{r.stream_name}</strong> {r.namespace && <span class="muted">{r.namespace}</span>}</td>
              <td class="columns">{r.columns.map((c) => `${c.name}: ${c.type}`).join(", ")}</td>
              <td><CheckField label={`Select ${r.stream_name}`} checked={r.selected} disabled={readOnly} onValue={(selected) => set(i, { selected })} /></td>
              <td>
                <SelectField label={`Sync mode of ${r.stream_name}`} value={r.sync_mode} disabled={readOnly}
                  options={r.supported_sync_modes ?? SYNC_MODES} onValue={(sync_mode) => set(i, { sync_mode })} />
              </td>
              <td>
                <SelectField label={`Destination mode of ${r.stream_name}`} value={r.destination_sync_mode} disabled={readOnly}
                  options={r.supported_destination_sync_modes ?? DEST_MODES} onValue={(destination_sync_mode) => set(i, { destination_sync_mode })} />
              </td>
              <td>
                <TextField label={`Primary key of ${r.stream_name}`} value={r.primary_key.join(", ")} readOnly={readOnly}
                  list={`cols-${i}`} hint="Columns, comma-separated"
                  onValue={(text) => set(i, { primary_key: text.split(",").map((c) => c.trim()).filter(Boolean) })} />
                <datalist id={`cols-${i}`}>{r.columns.map((c) => <option key={c.name} value={c.name} />)}</datalist>
              </td>
              <td>
                <SelectField label={`Cursor of ${r.stream_name}`} value={r.cursor_field ?? ""} disabled={readOnly}
                  options={[{ value: "", label: "(none)" }, ...r.columns.map((c) => ({ value: c.name, label: c.name }))]}
                  onValue={(c) => set(i, { cursor_field: c || null })} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
