// The Latch console: plain DOM code over the public REST API, one ES module per screen
// (imported by content-hashed names the server fills in). This module signs in and out and
// shows the screen the address names: every screen and record has an address under
// /console/, which the server answers with this page.

import * as ui from "./{{ui.js}}";
import { el, api, can, show, session, navigate, link, closeDialogs, KEY } from "./{{ui.js}}";
import { showCredentials, showCredential } from "./{{credentials.js}}";
import { showDataSources, newDataSource, showDataSource } from "./{{sources.js}}";
import { showOAuthApps } from "./{{oauth_apps.js}}";
import { showAudit } from "./{{audit.js}}";
import { showWebhooks } from "./{{webhooks.js}}";

const nav = document.getElementById("nav");
const signOut = document.getElementById("sign-out");

/// The helpers the Webhooks module gets.
const helpers = { ...ui, main: ui.main };

const ID = "([0-9a-fA-F-]{36})";

/// The console's sections, in the nav, each with the scope it needs.
const sections = [
  { name: "Credentials", path: "/console/credentials", scope: "credentials:read" },
  { name: "Data sources", path: "/console/data-sources", scope: "credentials:read" },
  { name: "Data destinations", path: "/console/data-destinations", scope: "credentials:read" },
  { name: "OAuth apps", path: "/console/oauth-apps", scope: "credentials:read" },
  { name: "Webhooks", path: "/console/webhooks", scope: "admin" },
  { name: "Audit", path: "/console/audit", scope: "admin" },
];

/// Each address: its pattern, the section it belongs to, and what shows it.
const routes = [
  [`^/console/credentials/${ID}$`, "Credentials", (match) => showCredential(match[1])],
  ["^/console/credentials$", "Credentials", (match, params) => showCredentials(params)],
  ["^/console/data-sources/new$", "Data sources", (match, params) => newDataSource("source", params)],
  [`^/console/data-sources/${ID}$`, "Data sources", (match, params) => showDataSource("source", match[1], params)],
  ["^/console/data-sources$", "Data sources", () => showDataSources("source")],
  ["^/console/data-destinations/new$", "Data destinations", (match, params) => newDataSource("destination", params)],
  [`^/console/data-destinations/${ID}$`, "Data destinations", (match, params) => showDataSource("destination", match[1], params)],
  ["^/console/data-destinations$", "Data destinations", () => showDataSources("destination")],
  ["^/console/oauth-apps$", "OAuth apps", () => showOAuthApps()],
  ["^/console/webhooks$", "Webhooks", () => showWebhooks(helpers)],
  ["^/console/audit$", "Audit", (match, params) => showAudit(params)],
].map(([pattern, section, render]) => ({ pattern: new RegExp(pattern), section, render }));

// Sign in -------------------------------------------------------------------------------

function showSignIn(message) {
  nav.hidden = true;
  signOut.hidden = true;
  nav.replaceChildren();
  const input = el("input", { id: "api-key", type: "password", autocomplete: "off", required: true, "aria-describedby": "api-key-help" });
  const error = ui.alertBox();
  if (message) error.textContent = message;
  const button = el("button", { type: "submit", class: "primary", text: "Sign in" });
  const form = el(
    "form",
    { class: "signin", novalidate: true, onsubmit: (event) => signIn(event, input, error, button) },
    el("h1", { text: "Sign in" }),
    el(
      "div",
      {},
      ui.label("api-key", "API key", true),
      input,
      el("p", {
        class: "help",
        id: "api-key-help",
        text:
          "An admin of your organization makes API keys (POST /v1/api-keys, or `latch api-key create`); " +
          "`make run` prints one for development. The key stays in this tab until you sign out.",
      }),
    ),
    button,
    error,
  );
  document.title = "Sign in · Latch";
  show(form);
  input.focus();
}

async function signIn(event, input, error, button) {
  event.preventDefault();
  if (!input.value.trim()) {
    error.textContent = "Enter an API key.";
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  sessionStorage.setItem(KEY, input.value.trim());
  input.value = "";
  button.disabled = true;
  try {
    session.me = await api("GET", "/v1/me");
  } catch (problem) {
    sessionStorage.removeItem(KEY);
    error.textContent = problem.status === 401 ? "Latch does not know this key, or it was revoked." : ui.readable(problem.message);
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  } finally {
    button.disabled = false;
  }
  start();
}

/// Forgets the key; `message` says why on the sign-in screen. The address stays, so
/// signing in again returns to it.
function forget(message) {
  sessionStorage.removeItem(KEY);
  session.me = null;
  closeDialogs();
  showSignIn(message);
}

session.onRefused = () =>
  forget("Latch refused the key: it was revoked, or its organization changed. Sign in again to go on.");

// Navigation ----------------------------------------------------------------------------

function offered() {
  return sections.filter((section) => can(section.scope));
}

function start() {
  nav.replaceChildren(...offered().map((section) => link(section.name, section.path, { "data-section": section.name })));
  nav.hidden = false;
  signOut.hidden = false;
  render();
}

/// Shows the screen of the address in the location bar.
function render() {
  if (!session.me) return;
  closeDialogs();
  const allowed = offered();
  if (!allowed.length) {
    show(el("p", { text: "This key may not use any part of the console: it is a job key or has no scope the console uses." }));
    return;
  }
  const path = location.pathname.replace(/\/+$/, "");
  if (path === "" || path === "/console") {
    navigate(allowed[0].path, { replace: true });
    return;
  }
  const route = routes.find((candidate) => candidate.pattern.test(path));
  const section = route && sections.find((candidate) => candidate.name === route.section);
  for (const item of nav.querySelectorAll("a")) {
    if (section && item.dataset.section === section.name) item.setAttribute("aria-current", "page");
    else item.removeAttribute("aria-current");
  }
  if (!route) {
    document.title = "Not found · Latch";
    show(el("h1", { text: "No such page" }), el("p", {}, "The console has no page at this address. ", link("Go to the credentials", "/console/credentials")));
    return;
  }
  if (!can(section.scope)) {
    document.title = `${section.name} · Latch`;
    show(el("h1", { text: section.name }), el("p", { text: "This key may not see this part of the console." }));
    return;
  }
  document.title = `${section.name} · Latch`;
  const shown = route.render(path.match(route.pattern), new URLSearchParams(location.search));
  Promise.resolve(shown).then(() => {
    // A keyboard user lands on the new screen, not on a control that is gone.
    if (!document.activeElement || document.activeElement === document.body || !document.activeElement.isConnected) {
      const heading = ui.main.querySelector("h1");
      if (heading) {
        heading.tabIndex = -1;
        heading.focus();
      }
    }
  });
}

session.onNavigate = render;
window.addEventListener("popstate", render);
signOut.addEventListener("click", () => {
  forget("Signed out.");
  history.replaceState(null, "", "/console/credentials");
});

// Start ---------------------------------------------------------------------------------

if (sessionStorage.getItem(KEY)) {
  api("GET", "/v1/me")
    .then((who) => {
      session.me = who;
      start();
    })
    .catch(() => forget());
} else {
  showSignIn();
}
