// One upload sync: drop files and folders while it is open (progress per file and overall), end it,
// and read its files' statuses and messages.
import { useEffect, useMemo, useReducer, useRef, useState } from "preact/hooks";
import { endSync, getSync, listSyncFiles, type Sync } from "../api/syncs";
import { ErrorNotice, Loading, Notice, Pager, Progress, StateBadge, TableWrap } from "../components/ui";
import { fmtBytes, fmtCount, fmtTime } from "../lib/format";
import { useCursorPages, useLoad } from "../lib/hooks";
import { Link } from "../router";
import { interrupted, UploadQueue } from "../upload/uploader";
import { DropZone } from "./DropZone";
import { useProject } from "../lib/project";

export function SyncPage({ syncId }: { syncId: number }) {
  const { project, canWrite } = useProject();
  const [poll, setPoll] = useState(0);
  const sync = useLoad(() => getSync(project.id, syncId), [project.id, syncId], poll);
  const [, redraw] = useReducer((n: number, _: number) => n + 1, 0);
  const queue = useMemo(() => new UploadQueue(project.id, syncId, () => redraw(0)), [project.id, syncId]);
  const [error, setError] = useState<unknown>(null);
  const s = sync.value;
  const open = s?.sync_status === "Syncing";
  useEffect(() => setPoll(open || (s?.in_flight ?? 0) > 0 ? 2000 : 0), [open, s?.in_flight]);
  if (sync.error) return <ErrorNotice error={sync.error} />;
  if (!s) return <Loading what="the upload sync" />;
  const end = async () => {
    setError(null);
    try {
      await endSync(project.id, syncId);
      await sync.reload();
    } catch (err) {
      setError(err);
    }
  };
  const pending = interrupted(project.id, syncId);
  return (
    <section>
      <p class="crumbs"><Link href={`/projects/${project.id}/syncs`}>Upload syncs</Link></p>
      <h1>Upload sync {s.name} <span class="muted">#{s.sync_id}</span></h1>
      <SyncFacts sync={s} />
      {open && canWrite && (
        <>
          {pending.length > 0 && queue.items.length === 0 && (
            <Notice kind="info">Interrupted uploads: {pending.join(", ")}. Drop the same files again to resume them.</Notice>
          )}
          <DropZone onFiles={(f) => queue.add(f)} />
          <Uploads queue={queue} />
          <div class="actions">
            <button type="button" class="primary" disabled={queue.busy} onClick={end}>End sync</button>
          </div>
        </>
      )}
      <ErrorNotice error={error} />
      <SyncFiles syncId={syncId} poll={poll} />
    </section>
  );
}

function Uploads({ queue }: { queue: UploadQueue }) {
  if (queue.items.length === 0) return null;
  return (
    <section class="card" aria-label="Uploads">
      <h2>Uploads</h2>
      <Progress value={queue.sent} max={queue.total} label="All uploads" />
      <ul class="uploads">
        {queue.items.map((i) => (
          <li key={i.key}>
            <span class="name">{i.shown}</span> <span class="muted">{fmtBytes(i.file.size)}{i.resumed ? ", resumed" : ""}</span>
            <Progress value={i.sent} max={i.file.size} label={`Upload of ${i.shown}`} />
            <span class={i.status === "failed" ? "error" : "muted"} role={i.status === "failed" ? "alert" : undefined}>
              {i.status}{i.message && i.message !== i.status ? `: ${i.message}` : ""}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function SyncFacts({ sync: s }: { sync: Sync }) {
  return (
    <dl class="facts">
        <dt>Status</dt><dd><StateBadge state={s.sync_status} /></dd>
        <dt>Path</dt><dd><code>{s.path}</code> ({s.sync_type})</dd>
        {s.table && <><dt>Table</dt><dd>{s.table} ({fmtCount(s.table_rows)} rows)</dd></>}
        <dt>Files</dt><dd>{fmtCount(s.total_files)} ({fmtCount(s.num_failed)} failed, {fmtCount(s.in_flight)} being ingested)</dd>
        <dt>Rows</dt><dd>{fmtCount(s.read)} read, {fmtCount(s.inserted)} inserted, {fmtCount(s.rejected)} rejected</dd>
        <dt>Started</dt><dd>{fmtTime(s.start_time)}</dd>
        <dt>Ended</dt><dd>{fmtTime(s.end_time)}</dd>
        {s.message && <><dt>Message</dt><dd>{s.message}</dd></>}
    </dl>
  );
}

function SyncFiles({ syncId, poll }: { syncId: number; poll: number }) {
  const { project } = useProject();
  const pages = useCursorPages();
  const files = useLoad(() => listSyncFiles(project.id, syncId, pages.cursor), [project.id, syncId, pages.cursor], poll);
  // The sync's status and its files are polled apart: when the status says it settled (polling stops),
  // the files' last poll may have come just before the last file was counted, so look once more.
  const polled = useRef(false);
  useEffect(() => {
    if (poll) polled.current = true;
    else if (polled.current) {
      polled.current = false;
      void files.reload();
    }
  }, [poll]);
  return (
    <>
      <h2>Files</h2>
      <ErrorNotice error={files.error} />
      {files.value?.items.length === 0 && <p class="muted">No files yet.</p>}
      {files.value && files.value.items.length > 0 && (
        <TableWrap label="Sync files">
          <table>
            <thead><tr><th>File</th><th>Status</th><th>Size</th><th>Rows</th><th>Rejected</th><th>Message</th><th>Received</th></tr></thead>
            <tbody>
              {files.value.items.map((f) => (
                <tr key={f.history_id}>
                  <td>{f.file_name}</td>
                  <td><StateBadge state={f.sync_status} /></td>
                  <td>{fmtBytes(f.size)}</td>
                  <td>{fmtCount(f.read)}</td>
                  <td>{fmtCount(f.rejected)}</td>
                  <td>{f.message}</td>
                  <td>{fmtTime(f.start_time)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager label="Sync files" page={pages.page} hasNext={Boolean(files.value?.next_cursor)}
        onNext={() => pages.next(files.value?.next_cursor ?? null)} onPrevious={pages.previous} />
    </>
  );
}
