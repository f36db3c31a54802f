// The projects the signed-in person belongs to, and a form to create one.
import { useState } from "preact/hooks";
import { ApiError } from "../api/client";
import { createProject, listProjects } from "../api/projects";
import { ErrorNotice, Loading, Pager, TableWrap, TextField } from "../components/ui";
import { fmtTime } from "../lib/format";
import { useCursorPages, useLoad } from "../lib/hooks";
import { Link, navigate } from "../router";

export function Projects() {
  const pages = useCursorPages();
  const list = useLoad(() => listProjects(pages.cursor), [pages.cursor]);
  return (
    <section>
      <h1>Projects</h1>
      <NewProject />
      <h2>Your projects</h2>
      <ErrorNotice error={list.error} />
      {list.loading && <Loading what="projects" />}
      {list.value && list.value.items.length === 0 && <p class="muted">No projects yet: create one above.</p>}
      {list.value && list.value.items.length > 0 && (
        <TableWrap label="Projects">
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Your role</th>
                <th>Description</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {list.value.items.map((p) => (
                <tr key={p.id}>
                  <td>
                    <Link href={`/projects/${p.id}/jobs`}>{p.name}</Link>
                  </td>
                  <td>{p.role}</td>
                  <td>{p.description}</td>
                  <td>{fmtTime(p.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager label="Projects" page={pages.page} hasNext={Boolean(list.value?.next_cursor)}
        onNext={() => pages.next(list.value?.next_cursor ?? null)} onPrevious={pages.previous} />
    </section>
  );
}

function NewProject() {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const project = await createProject({ name, description });
      navigate(`/projects/${project.id}/jobs`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fields = error instanceof ApiError ? error.fields : {};
  return (
    <form class="card" onSubmit={submit} noValidate aria-label="New project">
      <h2>New project</h2>
      <div class="row">
        <TextField label="Project name" value={name} onValue={setName} error={fields.name} required />
        <TextField label="Description" value={description} onValue={setDescription} error={fields.description} />
      </div>
      <ErrorNotice error={error} />
      <button class="primary" type="submit" disabled={busy}>
        Create project
      </button>
    </form>
  );
}
