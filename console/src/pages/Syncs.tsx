// Upload syncs: the history (status, files, failures) and a form to start one.
import { useState } from "preact/hooks";
import { ApiError } from "../api/client";
import { listConnectors } from "../api/connectors";
import { listSyncs, startSync } from "../api/syncs";
import { ErrorNotice, Loading, Pager, SelectField, StateBadge, TableWrap, TextField } from "../components/ui";
import { fmtCount, fmtTime } from "../lib/format";
import { useCursorPages, useLoad } from "../lib/hooks";
import { Link, navigate } from "../router";
import { useProject } from "../lib/project";

export function Syncs() {
  const { project, canWrite } = useProject();
  const pages = useCursorPages();
  const list = useLoad(() => listSyncs(project.id, pages.cursor), [project.id, pages.cursor]);
  return (
    <section>
      <h1>Upload syncs</h1>
      {canWrite && <StartSync />}
      <h2>History</h2>
      <ErrorNotice error={list.error} />
      {list.loading && <Loading what="upload syncs" />}
      {list.value?.items.length === 0 && <p class="muted">No upload syncs yet.</p>}
      {list.value && list.value.items.length > 0 && (
        <TableWrap label="Upload syncs">
          <table>
            <thead>
              <tr><th>Sync</th><th>Path</th><th>Type</th><th>Status</th><th>Files</th><th>Failed</th><th>Rows</th><th>Started</th><th>Ended</th></tr>
            </thead>
            <tbody>
              {list.value.items.map((s) => (
                <tr key={s.sync_id}>
                  <td><Link href={`/projects/${project.id}/syncs/${s.sync_id}`}>{s.name}</Link> <span class="muted">#{s.sync_id}</span></td>
                  <td><code>{s.path}</code>{s.table && <div class="muted">→ {s.table}</div>}</td>
                  <td>{s.sync_type}</td>
                  <td><StateBadge state={s.sync_status} /></td>
                  <td>{fmtCount(s.total_files)}</td>
                  <td>{fmtCount(s.num_failed)}</td>
                  <td>{fmtCount(s.inserted)}</td>
                  <td>{fmtTime(s.start_time)}</td>
                  <td>{fmtTime(s.end_time)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager label="Upload syncs" page={pages.page} hasNext={Boolean(list.value?.next_cursor)}
        onNext={() => pages.next(list.value?.next_cursor ?? null)} onPrevious={pages.previous} />
    </section>
  );
}

function StartSync() {
  const { project } = useProject();
  const destinations = useLoad(() => listConnectors(project.id, "destination", null), [project.id]);
  const [name, setName] = useState("");
  const [path, setPath] = useState("");
  const [syncType, setSyncType] = useState("IncrementalSync");
  const [destination, setDestination] = useState("");
  const [table, setTable] = useState("");
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const sync = await startSync(project.id, {
        name: name || null,
        path,
        sync_type: syncType as "FullSync" | "IncrementalSync",
        destination: destination || null,
        table: destination && table ? table : null,
      });
      navigate(`/projects/${project.id}/syncs/${sync.sync_id}`);
    } catch (err) {
      setError(err);
    }
  };
  const fields = error instanceof ApiError ? error.fields : {};
  const icebergs = (destinations.value?.items ?? []).filter((d) => d.type === "iceberg");
  return (
    <form class="card" onSubmit={submit} noValidate aria-label="Start an upload sync">
      <h2>Start an upload sync</h2>
      <div class="row">
        <TextField label="Lake path" value={path} onValue={setPath} error={fields.path} required placeholder="/sales/orders"
          hint="Where the files land in the project's lake" />
        <TextField label="Sync name" value={name} onValue={setName} error={fields.name} hint="Optional; default: the path" />
        <SelectField label="Sync type" value={syncType} onValue={setSyncType} error={fields.sync_type}
          options={[{ value: "IncrementalSync", label: "Incremental (add files)" }, { value: "FullSync", label: "Full (replace the path's files)" }]} />
      </div>
      <div class="row">
        <SelectField label="Load into table of" value={destination} onValue={setDestination} error={fields.destination}
          options={[{ value: "", label: "(no table: files only)" }, ...icebergs.map((d) => ({ value: d.name, label: d.name }))]} />
        {destination && <TextField label="Table" value={table} onValue={setTable} error={fields.table} hint="Default: the path's last folder" />}
      </div>
      <ErrorNotice error={error} />
      <button class="primary" type="submit">Start sync</button>
    </form>
  );
}
