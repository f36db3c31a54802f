// Sources or destinations, each with the jobs that use it (their state and last run).
import { useState } from "preact/hooks";
import { type Connector, deleteConnector, type Kind, listConnectors, plural } from "../api/connectors";
import { ConfirmButton, ErrorNotice, Loading, Notice, Pager, StateBadge, TableWrap } from "../components/ui";
import { fmtTime } from "../lib/format";
import { useCursorPages, useLoad } from "../lib/hooks";
import { Link } from "../router";
import { useProject } from "../lib/project";

export const KIND_TITLE: Record<Kind, string> = { source: "Source", destination: "Destination" };

export function Connectors({ kind }: { kind: Kind }) {
  const { project, canWrite } = useProject();
  const pages = useCursorPages();
  const list = useLoad(() => listConnectors(project.id, kind, pages.cursor), [project.id, kind, pages.cursor]);
  const [error, setError] = useState<unknown>(null);
  const deleted = new URLSearchParams(location.search).get("deleted"); // from the connector's own page
  const [done, setDone] = useState(deleted ? `Deleted ${deleted}.` : "");
  const base = `/projects/${project.id}/${plural(kind)}`;
  const remove = async (c: Connector) => {
    setError(null);
    setDone("");
    try {
      setDone(`Deleted ${await deleteConnector(project.id, kind, c.id, c.name)}.`);
      await list.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section>
      <div class="title-row">
        <h1>{KIND_TITLE[kind]}s</h1>
        {canWrite && (
          <Link class="button primary" href={`${base}/new`}>
            New {kind}
          </Link>
        )}
      </div>
      <ErrorNotice error={error ?? list.error} />
      {done && <Notice kind="ok">{done}</Notice>}
      {list.loading && <Loading what={`${kind}s`} />}
      {list.value?.items.length === 0 && <p class="muted">No {kind}s yet.</p>}
      {list.value && list.value.items.length > 0 && <ConnectorsTable kind={kind} items={list.value.items} onDelete={remove} />}
      <Pager label={`${kind}s`} page={pages.page} hasNext={Boolean(list.value?.next_cursor)}
        onNext={() => pages.next(list.value?.next_cursor ?? null)} onPrevious={pages.previous} />
    </section>
  );
}

function ConnectorsTable({ kind, items, onDelete }: { kind: Kind; items: Connector[]; onDelete: (c: Connector) => Promise<void> }) {
  const { project, canWrite } = useProject();
  const base = `/projects/${project.id}/${plural(kind)}`;
  const remove = onDelete;
  return (
    <TableWrap label={`${KIND_TITLE[kind]}s`}>
          <table>
            <thead>
              <tr><th>Name</th><th>Type</th><th>Jobs</th><th>Updated</th>{canWrite && <th>Actions</th>}</tr>
            </thead>
            <tbody>
              {items.map((c) => (
                <tr key={c.id}>
                  <td><Link href={`${base}/${c.id}`}>{c.name}</Link></td>
                  <td>{c.type} {c.version}</td>
                  <td><ConnectorJobs connector={c} /></td>
                  <td>{fmtTime(c.updated_at)} by {c.updated_by}</td>
                  {canWrite && (
                    <td>
                      <ConfirmButton label={`Delete ${c.name}`} title={`Delete the ${kind} ${c.name}?`} confirmLabel="Delete"
                        onConfirm={() => remove(c)}>
                        <p>A {kind} that a job still uses cannot be deleted: delete the job first.</p>
                      </ConfirmButton>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
  );
}

function ConnectorJobs({ connector }: { connector: Connector }) {
  const { project } = useProject();
  const jobs = connector.jobs ?? [];
  if (jobs.length === 0) return <span class="muted">none</span>;
  return (
    <ul class="plain">
      {jobs.map((j) => (
        <li key={j.id}>
          <Link href={`/projects/${project.id}/jobs/${j.id}`}>{j.name}</Link>{" "}
          {j.activate ? "" : <span class="muted">(inactive) </span>}
          <StateBadge state={j.last_run_state} /> <span class="muted">{fmtTime(j.last_run_time)}</span>
        </li>
      ))}
    </ul>
  );
}
