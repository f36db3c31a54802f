// Entry point: read /config.json, point the API client at the API, render the app.
import { render } from "preact";
import { App } from "./App";
import { configureApi } from "./api/client";
import { loadConfig } from "./config";
import "./styles.css";

const root = document.getElementById("app") as HTMLElement;

loadConfig()
  .then((config) => {
    configureApi(config.apiUrl, () => window.dispatchEvent(new Event("ingestplane:signed-out")));
    render(<App config={config} />, root);
  })
  .catch((error: Error) => {
    root.innerHTML = "";
    const p = document.createElement("p");
    p.setAttribute("role", "alert");
    p.textContent = `The console cannot start: ${error.message}`;
    root.append(p);
  });
