// Create or edit a source or destination: its type's spec draws the config form; "Test connection"
// runs every named check; the API's validation messages are shown by their fields.
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api/client";
import {
  type Connector, createConnector, deleteConnector, getConnector, getSpec, type Kind, listTypes, plural,
  type Spec, type TestResult, testConnection, updateConnector,
} from "../api/connectors";
import { type Config, defaults, type JsonSchema, SchemaForm } from "../components/SchemaForm";
import { ConfirmButton, ErrorNotice, Loading, Notice, SelectField, TextField } from "../components/ui";
import { fmtDuration } from "../lib/format";
import { useAction, useLoad } from "../lib/hooks";
import { Link, navigate } from "../router";
import { KIND_TITLE } from "./Connectors";
import { useProject } from "../lib/project";

/** The API's field errors, relative to the config (`config.csv.delimiter` -> `csv.delimiter`). */
function configErrors(error: unknown): { config: Record<string, string>; top: Record<string, string> } {
  const config: Record<string, string> = {};
  const top: Record<string, string> = {};
  if (error instanceof ApiError) {
    for (const [field, message] of Object.entries(error.fields)) {
      if (field.startsWith("config.")) config[field.slice(7)] = message;
      else top[field] = message;
    }
  }
  return { config, top };
}

export function ConnectorForm({ kind, id }: { kind: Kind; id?: string }) {
  const { project } = useProject();
  const existing = useLoad(() => (id ? getConnector(project.id, kind, id) : Promise.resolve(null)), [project.id, kind, id]);
  if (existing.error) return <ErrorNotice error={existing.error} />;
  if (id && !existing.value) return <Loading what={kind} />;
  return <Editor key={id ?? "new"} kind={kind} connector={existing.value ?? null} />;
}

/** The type, its spec and the config being edited (defaults of the spec for a new connector). */
function useTypedConfig(kind: Kind, connector: Connector | null, onError: (e: unknown) => void) {
  const { project } = useProject();
  const types = useLoad(() => listTypes(project.id, kind), [project.id, kind]);
  const [type, setType] = useState(connector?.type ?? "");
  const [version, setVersion] = useState(connector?.version ?? "v1");
  const [config, setConfig] = useState<Config>((connector?.config as Config) ?? {});
  const [spec, setSpec] = useState<Spec | null>(null);
  useEffect(() => {
    if (!type && types.value?.length) setType(types.value[0].type);
  }, [types.value]);
  useEffect(() => {
    if (!type) return;
    // A spec that arrives after the type changed again is stale: drawing it would show one type's form
    // under another type's name.
    let current = true;
    getSpec(project.id, kind, type, version).then((s) => {
      if (!current) return;
      setSpec(s);
      if (!connector || connector.type !== type) setConfig(defaults(s.spec as JsonSchema));
    }, (e) => current && onError(e));
    return () => {
      current = false;
    };
  }, [type, version]);
  const typeOptions = (types.value ?? []).map((t) => ({ value: t.type, label: `${t.title} (${t.type})` }));
  const versions = types.value?.find((t) => t.type === type)?.versions ?? [version];
  return { type, setType, version, setVersion, config, setConfig, spec, typeOptions, versions };
}

function Editor({ kind, connector }: { kind: Kind; connector: Connector | null }) {
  const { project, canWrite } = useProject();
  const [name, setName] = useState(connector?.name ?? "");
  const [tested, setTested] = useState<TestResult | null>(null);
  const action = useAction();
  const [specError, setSpecError] = useState<unknown>(null);
  const t = useTypedConfig(kind, connector, setSpecError);
  const base = `/projects/${project.id}/${plural(kind)}`;
  const body = () => ({ name, type: t.type, version: t.version, config: t.config });
  const save = (e: Event) => {
    e.preventDefault();
    void action.run("save", async () => {
      const saved = connector
        ? await updateConnector(project.id, kind, connector.id, body())
        : await createConnector(project.id, kind, body());
      navigate(`${base}/${saved.id}?saved=1`, true);
    });
  };
  const test = () =>
    action.run("test", async () => {
      setTested(null);
      setTested(await testConnection(project.id, kind, { id: connector?.id, type: t.type, version: t.version, config: t.config }));
    });
  const errors = configErrors(action.error);
  const saved = new URLSearchParams(location.search).get("saved");
  return (
    <section>
      <p class="crumbs"><Link href={base}>{KIND_TITLE[kind]}s</Link></p>
      <h1>{connector ? `${KIND_TITLE[kind]} ${connector.name}` : `New ${kind}`}</h1>
      {saved && <Notice kind="ok">{KIND_TITLE[kind]} saved.</Notice>}
      <form class="card" onSubmit={save} noValidate aria-label={`${KIND_TITLE[kind]} settings`}>
        <div class="row">
          <TextField label="Name" value={name} onValue={setName} error={errors.top.name} required readOnly={!canWrite} />
          <SelectField label="Type" value={t.type} options={t.typeOptions} onValue={t.setType} error={errors.top.type}
            disabled={!canWrite || Boolean(connector)} />
          <SelectField label="Version" value={t.version} options={t.versions} onValue={t.setVersion} error={errors.top.version} disabled={!canWrite} />
        </div>
        {t.spec ? <ConfigFields spec={t.spec} config={t.config} onChange={t.setConfig} errors={errors} readOnly={!canWrite} /> : <Loading what="the spec" />}
        <ErrorNotice error={action.error ?? specError} />
        <div class="actions">
          <button type="button" onClick={test} disabled={!t.spec || action.busy !== ""}>
            {action.busy === "test" ? "Testing…" : "Test connection"}
          </button>
          {canWrite && (
            <button class="primary" type="submit" disabled={!t.spec || action.busy !== ""}>
              {connector ? `Save ${kind}` : `Create ${kind}`}
            </button>
          )}
          {canWrite && connector && <DeleteConnector kind={kind} connector={connector} onError={setSpecError} />}
        </div>
      </form>
      {tested && <TestChecks result={tested} />}
    </section>
  );
}

function ConfigFields({ spec, config, onChange, errors, readOnly }: {
  spec: Spec;
  config: Config;
  onChange: (config: Config) => void;
  errors: ReturnType<typeof configErrors>;
  readOnly: boolean;
}) {
  const schema = spec.spec as JsonSchema;
  return (
    <fieldset class="config">
      <legend>{spec.title} settings</legend>
      {schema.description && <p class="muted">{schema.description}</p>}
      <SchemaForm schema={schema} value={config} onChange={onChange} errors={errors.config} readOnly={readOnly} />
      {errors.top.config && <small class="error" role="alert">{errors.top.config}</small>}
    </fieldset>
  );
}

function DeleteConnector({ kind, connector, onError }: { kind: Kind; connector: Connector; onError: (e: unknown) => void }) {
  const { project } = useProject();
  const remove = async () => {
    try {
      const gone = await deleteConnector(project.id, kind, connector.id, connector.name);
      navigate(`/projects/${project.id}/${plural(kind)}?deleted=${encodeURIComponent(gone)}`);
    } catch (err) {
      onError(err);
    }
  };
  return (
    <ConfirmButton label={`Delete ${kind}`} title={`Delete the ${kind} ${connector.name}?`} confirmLabel="Delete" onConfirm={remove}>
      <p>A {kind} that a job still uses cannot be deleted: delete the job first.</p>
    </ConfirmButton>
  );
}

function TestChecks({ result }: { result: TestResult }) {
  const ok = result.connection_result.status === "SUCCEEDED";
  return (
    <section class="card" aria-label="Connection test">
      <h2>Connection test: {ok ? "succeeded" : "failed"}</h2>
      <Notice kind={ok ? "ok" : "error"}>{result.connection_result.message}</Notice>
      <ul class="checks">
        {result.checks.map((c) => (
          <li key={c.name} class={`check-${c.status}`}>
            <strong>{c.name}</strong>: <span class="check-status">{c.status}</span> — {c.message}{" "}
            <span class="muted">({fmtDuration(c.duration_ms)})</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
