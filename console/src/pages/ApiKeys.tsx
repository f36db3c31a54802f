// API keys for machines: a new key is shown once, with a copy button; keys can be revoked.
import { useState } from "preact/hooks";
import { ApiError, type Schemas } from "../api/client";
import { createApiKey, listApiKeys, revokeApiKey, type Role, ROLES } from "../api/projects";
import { ConfirmButton, CopyButton, ErrorNotice, Loading, Notice, Pager, SelectField, TableWrap, TextField } from "../components/ui";
import { fmtTime } from "../lib/format";
import { useCursorPages, useLoad } from "../lib/hooks";
import { NotFound } from "./NotFound";
import { useProject } from "../lib/project";

export function ApiKeys() {
  const { project, isAdmin } = useProject();
  const pages = useCursorPages();
  const list = useLoad(() => (isAdmin ? listApiKeys(project.id, pages.cursor) : Promise.resolve(null)), [project.id, pages.cursor]);
  const [error, setError] = useState<unknown>(null);
  if (!isAdmin) return <NotFound what="page" />;
  const revoke = async (key: Schemas["ApiKeyOut"]) => {
    setError(null);
    try {
      await revokeApiKey(project.id, key.id);
      await list.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section>
      <h1>API keys</h1>
      <NewKey onCreated={list.reload} />
      <ErrorNotice error={error ?? list.error} />
      {list.loading && <Loading what="API keys" />}
      {list.value && (
        <TableWrap label="API keys">
          <table>
            <thead>
              <tr><th>Name</th><th>Role</th><th>Starts with</th><th>Created</th><th>Revoked</th><th>Actions</th></tr>
            </thead>
            <tbody>
              {list.value.items.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  <td>{k.role}</td>
                  <td><code>{k.prefix}…</code></td>
                  <td>{fmtTime(k.created_at)} by {k.created_by}</td>
                  <td>{fmtTime(k.revoked_at)}</td>
                  <td>
                    {!k.revoked_at && (
                      <ConfirmButton label={`Revoke ${k.name}`} title={`Revoke the key ${k.name}?`} confirmLabel="Revoke"
                        onConfirm={() => revoke(k)}>
                        <p>Every client using this key loses access at once. This cannot be undone.</p>
                      </ConfirmButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager label="API keys" page={pages.page} hasNext={Boolean(list.value?.next_cursor)}
        onNext={() => pages.next(list.value?.next_cursor ?? null)} onPrevious={pages.previous} />
    </section>
  );
}

function NewKey({ onCreated }: { onCreated: () => Promise<void> }) {
  const { project } = useProject();
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("editor");
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<Schemas["ApiKeyCreated"] | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      setCreated(await createApiKey(project.id, { name, role }));
      setName("");
      await onCreated();
    } catch (err) {
      setError(err);
    }
  };
  const fields = error instanceof ApiError ? error.fields : {};
  return (
    <form class="card" onSubmit={submit} noValidate aria-label="New API key">
      <h2>New API key</h2>
      <div class="row">
        <TextField label="Key name" value={name} onValue={setName} error={fields.name} required />
        <SelectField label="Key role" value={role} options={ROLES} onValue={(r) => setRole(r as Role)} error={fields.role} />
      </div>
      <ErrorNotice error={error} />
      {created && (
        <Notice kind="ok">
          <p>
            The key <strong>{created.name}</strong> is shown this once: copy it now.
          </p>
          <p class="secret">
            <code aria-label="New API key value">{created.key}</code> <CopyButton text={created.key} label="Copy key" />
          </p>
        </Notice>
      )}
      <button class="primary" type="submit">Create key</button>
    </form>
  );
}
