// Sources and destinations: types and specs, connection tests, CRUD, and stream discovery.
import { api, type Schemas, unwrap } from "./client";
import { type DiscoveredStream, deletedName, streamsOf } from "./compat";
import type { Page } from "./projects";

export type Kind = "source" | "destination";
export type Connector = Schemas["ConnectorOut"];
export type Spec = Schemas["ConnectorSpec"];
export type TypeInfo = Schemas["ConnectorTypeInfo"];
export type TestResult = Schemas["ConnectionTestOut"];
export type Stream = DiscoveredStream;

export const plural = (kind: Kind) => (kind === "source" ? "sources" : "destinations");

export async function listTypes(projectid: string, kind: Kind): Promise<TypeInfo[]> {
  const params = { path: { projectid } };
  const r =
    kind === "source"
      ? await unwrap(api().GET("/api/v1/project/{projectid}/sources/spec", { params }))
      : await unwrap(api().GET("/api/v1/project/{projectid}/destinations/spec", { params }));
  return "types" in r.data ? r.data.types : [];
}

export async function getSpec(projectid: string, kind: Kind, type: string, version: string): Promise<Spec> {
  const params = { path: { projectid }, query: { type, version } };
  const r =
    kind === "source"
      ? await unwrap(api().GET("/api/v1/project/{projectid}/sources/spec", { params }))
      : await unwrap(api().GET("/api/v1/project/{projectid}/destinations/spec", { params }));
  if (!("spec" in r.data)) throw new Error(`no spec for ${type} ${version}`);
  return r.data;
}

export async function listConnectors(projectid: string, kind: Kind, cursor: string | null): Promise<Page<Connector>> {
  const params = { path: { projectid }, query: { cursor, limit: 50 } };
  const r =
    kind === "source"
      ? await unwrap(api().GET("/api/v1/project/{projectid}/sources", { params }))
      : await unwrap(api().GET("/api/v1/project/{projectid}/destinations", { params }));
  return { items: r.data, next_cursor: r.next_cursor };
}

export async function getConnector(projectid: string, kind: Kind, id: string): Promise<Connector> {
  const params = { path: { projectid, id } };
  const r =
    kind === "source"
      ? await unwrap(api().GET("/api/v1/project/{projectid}/sources/{id}", { params }))
      : await unwrap(api().GET("/api/v1/project/{projectid}/destinations/{id}", { params }));
  return r.data;
}

export async function createConnector(projectid: string, kind: Kind, body: Schemas["ConnectorCreate"]): Promise<Connector> {
  const init = { params: { path: { projectid } }, body };
  const r =
    kind === "source"
      ? await unwrap(api().POST("/api/v1/project/{projectid}/sources", init))
      : await unwrap(api().POST("/api/v1/project/{projectid}/destinations", init));
  return r.data;
}

export async function updateConnector(
  projectid: string,
  kind: Kind,
  id: string,
  body: Schemas["ConnectorUpdate"],
): Promise<Connector> {
  const init = { params: { path: { projectid, id } }, body };
  const r =
    kind === "source"
      ? await unwrap(api().PUT("/api/v1/project/{projectid}/sources/{id}", init))
      : await unwrap(api().PUT("/api/v1/project/{projectid}/destinations/{id}", init));
  return r.data;
}

/** Deletes; a connector that a job still uses is a 409 whose message says so. Returns the name. */
export async function deleteConnector(projectid: string, kind: Kind, id: string, name: string): Promise<string> {
  const params = { path: { projectid, id } };
  const r =
    kind === "source"
      ? await unwrap(api().DELETE("/api/v1/project/{projectid}/sources/{id}", { params }))
      : await unwrap(api().DELETE("/api/v1/project/{projectid}/destinations/{id}", { params }));
  return deletedName((r as { data?: unknown }).data, name); // compat.ts 5
}

export async function testConnection(projectid: string, kind: Kind, body: Schemas["ConnectorTest"]): Promise<TestResult> {
  const init = { params: { path: { projectid } }, body };
  const r =
    kind === "source"
      ? await unwrap(api().POST("/api/v1/project/{projectid}/sources/test", init))
      : await unwrap(api().POST("/api/v1/project/{projectid}/destinations/test", init));
  return r.data;
}

export async function discoverStreams(projectid: string, source_id: string): Promise<Stream[]> {
  const init = { params: { path: { projectid } }, body: { source_id } };
  const r = await unwrap(api().POST("/api/v1/project/{projectid}/source/streams", init));
  return streamsOf(r.data);
}
