// A connector's config form, drawn from its type's JSON-Schema spec: enums as selects, booleans as
// checkboxes, secrets as password fields (shown masked), lists one item a line, nested objects as
// fieldsets, defaults filled in. Errors come from the API, keyed by the field's path (`csv.delimiter`).
import { CheckField, Field, SelectField, TextField } from "./ui";

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  format?: string;
  secret?: boolean;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
}

export type Config = Record<string, unknown>;

interface Resolved {
  schema: JsonSchema;
  nullable: boolean;
}

/** `anyOf: [X, {type: null}]` is X, nullable; `$ref` is looked up in the root's `$defs`. */
export function resolve(schema: JsonSchema, root: JsonSchema): Resolved {
  let nullable = false;
  let s = schema;
  if (s.anyOf) {
    const others = s.anyOf.filter((o) => o.type !== "null");
    nullable = others.length < s.anyOf.length;
    const { anyOf: _variants, ...outer } = schema; // title, description, default, format, secret
    s = { ...others[0], ...outer };
  }
  if (s.$ref) {
    const name = s.$ref.split("/").pop() ?? "";
    const target = root.$defs?.[name] ?? {};
    s = { ...target, title: schema.title ?? target.title, description: schema.description ?? target.description, default: s.default };
  }
  return { schema: s, nullable };
}

/** The config a new connector starts with: every default of the spec. */
export function defaults(schema: JsonSchema, root: JsonSchema = schema): Config {
  const out: Config = {};
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const { schema: s } = resolve(prop, root);
    if (prop.default !== undefined) out[key] = prop.default;
    else if (s.const !== undefined) out[key] = s.const;
    else if (s.type === "object" && s.properties && !prop.anyOf) out[key] = defaults(s, root);
  }
  return out;
}

function titleOf(key: string, s: JsonSchema): string {
  return s.title ?? key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

const isSecret = (s: JsonSchema) => s.secret === true || s.format === "password";

interface FormProps {
  schema: JsonSchema;
  value: Config;
  onChange: (value: Config) => void;
  errors: Record<string, string>;
  readOnly?: boolean;
}

export function SchemaForm({ schema, value, onChange, errors, readOnly }: FormProps) {
  return <Properties root={schema} schema={schema} value={value} onChange={onChange} errors={errors} path="" readOnly={readOnly} />;
}

interface PropsOf extends FormProps {
  root: JsonSchema;
  path: string;
}

function Properties({ root, schema, value, onChange, errors, path, readOnly }: PropsOf) {
  const required = new Set(schema.required ?? []);
  return (
    <>
      {Object.entries(schema.properties ?? {}).map(([key, prop]) => (
        <Property
          key={key}
          name={key}
          root={root}
          prop={prop}
          required={required.has(key)}
          value={value[key]}
          onValue={(v) => onChange({ ...value, [key]: v })}
          errors={errors}
          path={path ? `${path}.${key}` : key}
          readOnly={readOnly}
        />
      ))}
    </>
  );
}

interface PropertyProps {
  name: string;
  root: JsonSchema;
  prop: JsonSchema;
  required: boolean;
  value: unknown;
  onValue: (value: unknown) => void;
  errors: Record<string, string>;
  path: string;
  readOnly?: boolean;
}

function Property(p: PropertyProps) {
  const { schema: s, nullable } = resolve(p.prop, p.root);
  const label = titleOf(p.name, s);
  const error = p.errors[p.path];
  const hint = s.description;
  if (s.type === "object" && s.properties) return <ObjectProperty {...p} schema={s} nullable={nullable} label={label} />;
  if (s.const !== undefined) {
    return <TextField label={label} value={String(s.const)} onValue={() => {}} readOnly hint={hint} error={error} />;
  }
  if (s.enum) {
    const options = s.enum.map(String);
    return (
      <SelectField label={label} value={String(p.value ?? options[0])} options={options} onValue={p.onValue}
        hint={hint} error={error} disabled={p.readOnly} required={p.required} />
    );
  }
  if (s.type === "boolean") {
    return <CheckField label={label} checked={Boolean(p.value)} onValue={p.onValue} hint={hint} error={error} disabled={p.readOnly} />;
  }
  if (s.type === "array") return <ListProperty {...p} label={label} hint={hint} error={error} />;
  const numeric = s.type === "integer" || s.type === "number";
  return (
    <TextField
      label={label}
      type={isSecret(s) ? "password" : numeric ? "number" : "text"}
      autoComplete={isSecret(s) ? "new-password" : "off"}
      value={p.value === null || p.value === undefined ? "" : String(p.value)}
      onValue={(text) => p.onValue(text === "" && (nullable || numeric) ? null : numeric ? Number(text) : text)}
      hint={hint}
      error={error}
      required={p.required}
      readOnly={p.readOnly}
    />
  );
}

function ListProperty(p: PropertyProps & { label: string; hint?: string; error?: string }) {
  const items = Array.isArray(p.value) ? (p.value as unknown[]).map(String) : [];
  return (
    <Field label={p.label} hint={`${p.hint ? p.hint + ". " : ""}One a line.`} error={p.error}>
      {(id, describedBy) => (
        <textarea
          id={id}
          rows={3}
          readOnly={p.readOnly}
          aria-describedby={describedBy}
          value={items.join("\n")}
          onInput={(e) => p.onValue((e.target as HTMLTextAreaElement).value.split("\n").map((l) => l.trim()).filter(Boolean))}
        />
      )}
    </Field>
  );
}

function ObjectProperty(p: PropertyProps & { schema: JsonSchema; nullable: boolean; label: string }) {
  const present = p.value !== null && p.value !== undefined;
  const value = (present ? p.value : {}) as Config;
  return (
    <fieldset class="nested">
      <legend>{p.label}</legend>
      {p.nullable && (
        <CheckField
          label={`Set ${p.label}`}
          checked={present}
          disabled={p.readOnly}
          onValue={(on) => p.onValue(on ? defaults(p.schema, p.root) : null)}
        />
      )}
      {p.errors[p.path] && (
        <small class="error" role="alert">
          {p.errors[p.path]}
        </small>
      )}
      {present && (
        <Properties root={p.root} schema={p.schema} value={value} onChange={p.onValue} errors={p.errors} path={p.path} readOnly={p.readOnly} />
      )}
    </fieldset>
  );
}
