// The console's runtime configuration: /config.json, written at deploy time (CDK) or served by the
// local cloud. Nothing else is fetched from anywhere but the API.

export interface ConsoleConfig {
  /** Where the API is: an origin such as http://localhost:8080, or "" for this console's own origin. */
  apiUrl: string;
  region?: string;
  userPoolId?: string;
  userPoolClientId?: string;
  environment?: string;
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch("/config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const raw = (await response.json()) as Partial<ConsoleConfig>;
  if (typeof raw.apiUrl !== "string") throw new Error("config.json has no apiUrl");
  return { ...raw, apiUrl: raw.apiUrl.replace(/\/+$/, "") };
}
