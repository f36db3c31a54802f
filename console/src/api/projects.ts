// Projects, their members and their API keys.
import { api, type Schemas, unwrap } from "./client";

export type Project = Schemas["ProjectOut"];
export type Member = Schemas["MemberOut"];
export type ApiKey = Schemas["ApiKeyOut"];
export type Role = Schemas["ProjectOut"]["role"];
export const ROLES: Role[] = ["admin", "editor", "viewer"];

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

const path = (projectid: string) => ({ params: { path: { projectid } } });

export async function listProjects(cursor: string | null): Promise<Page<Project>> {
  const r = await unwrap(api().GET("/api/v1/project", { params: { query: { cursor, limit: 50 } } }));
  return { items: r.data, next_cursor: r.next_cursor };
}

export async function getProject(projectid: string): Promise<Project> {
  return (await unwrap(api().GET("/api/v1/project/{projectid}", path(projectid)))).data;
}

export async function createProject(body: Schemas["ProjectCreate"]): Promise<Project> {
  return (await unwrap(api().POST("/api/v1/project", { body }))).data;
}

export async function updateProject(projectid: string, body: Schemas["ProjectUpdate"]): Promise<Project> {
  return (await unwrap(api().PUT("/api/v1/project/{projectid}", { ...path(projectid), body }))).data;
}

export async function deleteProject(projectid: string): Promise<void> {
  await unwrap(api().DELETE("/api/v1/project/{projectid}", path(projectid)));
}

export async function listMembers(projectid: string, cursor: string | null): Promise<Page<Member>> {
  const params = { path: { projectid }, query: { cursor, limit: 50 } };
  const r = await unwrap(api().GET("/api/v1/project/{projectid}/members", { params }));
  return { items: r.data, next_cursor: r.next_cursor };
}

export async function addMember(projectid: string, body: Schemas["MemberAdd"]): Promise<Member> {
  const r = await unwrap(api().POST("/api/v1/project/{projectid}/members", { ...path(projectid), body }));
  return r.data;
}

export async function setMemberRole(projectid: string, username: string, role: Role): Promise<Member> {
  const params = { path: { projectid, username } };
  const r = await unwrap(api().PUT("/api/v1/project/{projectid}/members/{username}", { params, body: { role } }));
  return r.data;
}

export async function removeMember(projectid: string, username: string): Promise<void> {
  const params = { path: { projectid, username } };
  await unwrap(api().DELETE("/api/v1/project/{projectid}/members/{username}", { params }));
}

export async function listApiKeys(projectid: string, cursor: string | null): Promise<Page<ApiKey>> {
  const params = { path: { projectid }, query: { cursor, limit: 50 } };
  const r = await unwrap(api().GET("/api/v1/project/{projectid}/api-keys", { params }));
  return { items: r.data, next_cursor: r.next_cursor };
}

export async function createApiKey(projectid: string, body: Schemas["ApiKeyCreate"]): Promise<Schemas["ApiKeyCreated"]> {
  const r = await unwrap(api().POST("/api/v1/project/{projectid}/api-keys", { ...path(projectid), body }));
  return r.data;
}

export async function revokeApiKey(projectid: string, key_id: string): Promise<ApiKey> {
  const params = { path: { projectid, key_id } };
  return (await unwrap(api().DELETE("/api/v1/project/{projectid}/api-keys/{key_id}", { params }))).data;
}
