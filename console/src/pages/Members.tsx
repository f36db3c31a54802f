// A project's members and their roles; admins add people, change roles and remove them.
import { useState } from "preact/hooks";
import { ApiError } from "../api/client";
import { addMember, listMembers, type Member, removeMember, type Role, ROLES, setMemberRole } from "../api/projects";
import { ConfirmButton, ErrorNotice, Loading, Notice, Pager, SelectField, TableWrap, TextField } from "../components/ui";
import { fmtTime } from "../lib/format";
import { useCursorPages, useLoad } from "../lib/hooks";
import { useSession } from "../session";
import { useProject } from "../lib/project";

export function Members() {
  const { project, isAdmin } = useProject();
  const pages = useCursorPages();
  const list = useLoad(() => listMembers(project.id, pages.cursor), [project.id, pages.cursor]);
  const [error, setError] = useState<unknown>(null);
  const act = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
      await list.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section>
      <h1>Members</h1>
      {isAdmin && <AddMember onAdded={list.reload} />}
      <ErrorNotice error={error ?? list.error} />
      {list.loading && <Loading what="members" />}
      {list.value && <MembersTable items={list.value.items} act={act} />}
      <Pager label="Members" page={pages.page} hasNext={Boolean(list.value?.next_cursor)}
        onNext={() => pages.next(list.value?.next_cursor ?? null)} onPrevious={pages.previous} />
    </section>
  );
}

function MembersTable({ items, act }: { items: Member[]; act: (action: () => Promise<unknown>) => Promise<void> }) {
  const { project, isAdmin } = useProject();
  const { user } = useSession();
  return (
    <TableWrap label="Members">
          <table>
            <thead>
              <tr><th>Username</th><th>Role</th><th>Added by</th><th>Added</th>{isAdmin && <th>Actions</th>}</tr>
            </thead>
            <tbody>
              {items.map((m) => (
                <tr key={m.username}>
                  <td>{m.username}</td>
                  <td>
                    {isAdmin ? (
                      <SelectField label={`Role of ${m.username}`} value={m.role} options={ROLES}
                        onValue={(role) => act(() => setMemberRole(project.id, m.username, role as Role))} />
                    ) : (
                      m.role
                    )}
                  </td>
                  <td>{m.added_by}</td>
                  <td>{fmtTime(m.added_at)}</td>
                  {isAdmin && (
                    <td>
                      {m.username !== user?.username && (
                        <ConfirmButton label={`Remove ${m.username}`} title={`Remove ${m.username}?`} confirmLabel="Remove"
                          onConfirm={() => act(() => removeMember(project.id, m.username))}>
                          <p>{m.username} loses access to {project.name}.</p>
                        </ConfirmButton>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
  );
}

function AddMember({ onAdded }: { onAdded: () => Promise<void> }) {
  const { project } = useProject();
  const [username, setUsername] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [error, setError] = useState<unknown>(null);
  const [added, setAdded] = useState("");
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setAdded("");
    try {
      const member = await addMember(project.id, { username, role });
      setAdded(`${member.username} added as ${member.role}`);
      setUsername("");
      await onAdded();
    } catch (err) {
      setError(err);
    }
  };
  const fields = error instanceof ApiError ? error.fields : {};
  return (
    <form class="card" onSubmit={submit} noValidate aria-label="Add a member">
      <h2>Add a member</h2>
      <div class="row">
        <TextField label="Username" value={username} onValue={setUsername} error={fields.username} required />
        <SelectField label="Role" value={role} options={ROLES} onValue={(r) => setRole(r as Role)} error={fields.role} />
      </div>
      <ErrorNotice error={error} />
      {added && <Notice kind="ok">{added}</Notice>}
      <button class="primary" type="submit">Add member</button>
    </form>
  );
}
