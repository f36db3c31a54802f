// Rename a project or delete it (admins; with confirmation).
import { useState } from "preact/hooks";
import { ApiError } from "../api/client";
import { deleteProject, updateProject } from "../api/projects";
import { ConfirmButton, ErrorNotice, Notice, TextField } from "../components/ui";
import { navigate } from "../router";
import { useProject } from "../lib/project";

export function ProjectSettings() {
  const { project, isAdmin, reload } = useProject();
  const [name, setName] = useState(project.name);
  const [description, setDescription] = useState(project.description);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setSaved(false);
    try {
      await updateProject(project.id, { name, description });
      await reload();
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  };
  const remove = async () => {
    try {
      await deleteProject(project.id);
      navigate("/");
    } catch (err) {
      setError(err);
    }
  };
  const fields = error instanceof ApiError ? error.fields : {};
  return (
    <section>
      <h1>Settings</h1>
      <form class="card" onSubmit={save} noValidate aria-label="Project settings">
        <TextField label="Project name" value={name} onValue={setName} error={fields.name} readOnly={!isAdmin} />
        <TextField label="Description" value={description} onValue={setDescription} error={fields.description} readOnly={!isAdmin} />
        <ErrorNotice error={error} />
        {saved && <Notice kind="ok">Project saved.</Notice>}
        {isAdmin && <button class="primary" type="submit">Save project</button>}
      </form>
      {isAdmin && (
        <div class="card danger-zone">
          <h2>Delete this project</h2>
          <p>Its schedules and runs stop and its API keys are revoked.</p>
          <ConfirmButton label="Delete project" title={`Delete the project ${project.name}?`} confirmLabel="Delete project" onConfirm={remove}>
            <p>This deletes {project.name} for every member.</p>
          </ConfirmButton>
        </div>
      )}
    </section>
  );
}
