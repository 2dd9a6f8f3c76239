// The Latch console: plain DOM code over the public REST API. The API key lives in
// sessionStorage only; it is sent in the Authorization header, never in a URL. Screens in a
// module of their own get the shared helpers as `ui`; the server fills in their hashed names.

import { showWebhooks } from "./{{webhooks.js}}";

const KEY = "latch.api_key";
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const signOut = document.getElementById("sign-out");
let me = null;
let ids = 0;

class Problem extends Error {
  constructor(status, body) {
    super(body && body.detail ? body.detail : `The server answered ${status}.`);
    this.status = status;
    this.body = body || {};
  }
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.status === 401 && path !== "/v1/me") {
    forget();
    throw new Problem(401, data);
  }
  if (!response.ok) throw new Problem(response.status, data);
  return data;
}

function can(scope) {
  return !!me && (me.scopes.includes("admin") || me.scopes.includes(scope));
}

function forget() {
  sessionStorage.removeItem(KEY);
  me = null;
  nav.replaceChildren();
  nav.hidden = true;
  signOut.hidden = true;
  showSignIn();
}

function alertBox() {
  return el("p", { role: "alert" });
}

function showError(box, error) {
  box.textContent = error instanceof Problem ? error.message : "Latch could not be reached.";
}

/// A problem's field errors beside the fields they name, and its detail in `box`.
function showFieldErrors(fields, box, problem) {
  const listed = (problem.body && problem.body.errors) || [];
  for (const item of listed) {
    const field = fields.find((candidate) => candidate.path === item.field);
    if (field) field.error.textContent = item.message;
  }
  showError(box, problem);
}

// Sign in -------------------------------------------------------------------------------

function showSignIn(message) {
  const input = el("input", { id: "api-key", type: "password", autocomplete: "off", required: true });
  const error = alertBox();
  if (message) error.textContent = message;
  const form = el(
    "form",
    { class: "signin", onsubmit: (event) => signIn(event, input, error) },
    el("h1", { text: "Sign in" }),
    el("div", {}, el("label", { for: "api-key", text: "API key" }), input),
    el("button", { type: "submit", class: "primary", text: "Sign in" }),
    error,
  );
  main.replaceChildren(form);
  input.focus();
}

async function signIn(event, input, error) {
  event.preventDefault();
  sessionStorage.setItem(KEY, input.value.trim());
  input.value = "";
  try {
    me = await api("GET", "/v1/me");
  } catch (problem) {
    sessionStorage.removeItem(KEY);
    showError(error, problem);
    return;
  }
  start();
}

// Navigation ----------------------------------------------------------------------------

const sections = [
  { name: "Credentials", scope: "credentials:read", show: () => showCredentials() },
  { name: "Data sources", scope: "credentials:read", show: () => showDataSources("source") },
  { name: "Data destinations", scope: "credentials:read", show: () => showDataSources("destination") },
  { name: "OAuth apps", scope: "credentials:read", show: () => showOAuthApps() },
  { name: "Webhooks", scope: "admin", show: () => showWebhooks(ui()) },
  { name: "Audit", scope: "admin", show: () => showAudit() },
];

/// The helpers a screen in a module of its own uses.
function ui() {
  return { main, el, api, uid, alertBox, showError, copyable, when };
}

function start() {
  const offered = sections.filter((section) => can(section.scope));
  nav.replaceChildren(
    ...offered.map((section) =>
      el("button", { type: "button", text: section.name, onclick: () => go(section) }),
    ),
  );
  nav.hidden = false;
  signOut.hidden = false;
  if (offered.length) go(offered[0]);
  else main.replaceChildren(el("p", { text: "This key may not use any part of the console." }));
}

function go(section) {
  for (const button of nav.querySelectorAll("button")) {
    if (button.textContent === section.name) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  section.show();
}

// Credentials ---------------------------------------------------------------------------

const statusText = {
  valid: "valid",
  invalid: "invalid",
  unreachable: "unreachable",
  error: "error",
  reauthorization_required: "reauthorization required",
  unverified: "unverified",
  degraded: "degraded",
};

function when(text) {
  return text ? new Date(text).toLocaleString() : "never";
}

function credentialTile(credential, { selected, onselect } = {}) {
  const who = credential.identity && (credential.identity.display_name || credential.identity.email);
  const used = credential.used_by || { data_sources: 0, data_destinations: 0 };
  return el(
    "button",
    {
      type: "button",
      class: "tile",
      "aria-pressed": onselect ? String(!!selected) : null,
      "data-credential-id": credential.id,
      onclick: onselect ? () => onselect(credential) : null,
    },
    el("h3", { text: credential.name }),
    credential.description ? el("p", { text: credential.description }) : null,
    el(
      "p",
      {},
      el("span", {
        class: `status ${credential.status}`,
        text: statusText[credential.status] || credential.status,
      }),
      credential.status_detail ? ` ${credential.status_detail}` : "",
    ),
    who ? el("p", { text: `connected as ${who}` }) : null,
    credential.status !== "valid" && credential.status_since
      ? el("p", { text: `${statusText[credential.status] || credential.status} since ${when(credential.status_since)}` })
      : null,
    el("p", { text: `last tested: ${when(credential.validated_at)}` }),
    el("p", {
      text: `used by ${used.data_sources} data source(s) and ${used.data_destinations} destination(s)`,
    }),
  );
}

async function showCredentials() {
  const error = alertBox();
  const list = el("ul", { class: "tiles" });
  main.replaceChildren(el("h1", { text: "Credentials" }), error, list);
  try {
    const [page, connectors] = await Promise.all([
      api("GET", "/v1/credentials?limit=200"),
      api("GET", "/v1/connectors"),
    ]);
    // One group of tiles per connector, broken ones first.
    const groups = connectors.items
      .map((connector) => ({
        connector,
        items: page.items
          .filter((credential) => credential.connector === connector.id)
          .sort((a, b) => brokenFirst(a) - brokenFirst(b)),
      }))
      .filter((group) => group.items.length);
    if (!groups.length) {
      list.replaceChildren(el("li", { text: "No credentials yet." }));
      return;
    }
    list.replaceWith(
      ...groups.map((group) =>
        el(
          "section",
          { "aria-label": group.connector.name },
          el("h2", { text: group.connector.name }),
          el(
            "ul",
            { class: "tiles" },
            ...group.items.map((credential) =>
              el("li", {}, credentialTile(credential), credentialActions(credential, error)),
            ),
          ),
        ),
      ),
    );
  } catch (problem) {
    showError(error, problem);
  }
}

/// Where a tile goes among its connector's: what needs a person first.
function brokenFirst(credential) {
  const order = ["reauthorization_required", "invalid", "degraded", "unverified", "valid"];
  const rank = order.indexOf(credential.status);
  return rank < 0 ? order.length : rank;
}

/// A credential's health: now, since when, and its latest status changes.
async function showHealth(credential) {
  const health = await api("GET", `/v1/credentials/${credential.id}/health`);
  const cell = (text) => el("td", { text: text || "" });
  const dialog = el(
    "dialog",
    { "aria-label": `Health of ${credential.name}` },
    el("h2", { text: `Health of ${credential.name}` }),
    el("p", {
      text: `${statusText[health.status] || health.status} since ${when(health.since)}` +
        (health.status_detail ? `: ${health.status_detail}` : ""),
    }),
    el("p", {
      text: `failures in a row: ${health.consecutive_failures}` +
        (health.last_failure ? ` (last: ${health.last_failure})` : "") +
        `; last token: ${when(health.last_token_at)}`,
    }),
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ...["When", "From", "To", "Measured by", "Why"].map((name) => el("th", { text: name })))),
      el(
        "tbody",
        {},
        ...health.changes.map((change) =>
          el(
            "tr",
            {},
            cell(when(change.at)),
            cell(change.from ? statusText[change.from] || change.from : "(saved)"),
            cell(statusText[change.to] || change.to),
            cell(change.cause),
            cell(change.detail),
          ),
        ),
      ),
    ),
    el("div", { class: "actions" }, el("button", { type: "button", text: "Close", onclick: () => { dialog.close(); dialog.remove(); } })),
  );
  document.body.append(dialog);
  dialog.showModal();
}

function credentialActions(credential, error) {
  const history = el("button", {
    type: "button",
    text: "History",
    onclick: () => showHealth(credential).catch((problem) => showError(error, problem)),
  });
  if (!can("credentials:write")) {
    return el("div", { class: "actions", role: "group", "aria-label": `Actions for ${credential.name}` }, history);
  }
  const path = `/v1/credentials/${credential.id}`;
  const run = (action) => async () => {
    error.textContent = "";
    try {
      await action();
      await showCredentials();
    } catch (problem) {
      showError(error, problem);
      if (problem.body && problem.body.used_by) {
        error.append(
          el(
            "ul",
            {},
            ...problem.body.used_by.map((user) =>
              el(
                "li",
                {},
                el("a", {
                  href: "#",
                  text: `${user.kind === "source" ? "Data source" : "Data destination"} ${user.name}`,
                  onclick: (event) => {
                    event.preventDefault();
                    go(sections.find((section) => section.name === (user.kind === "source" ? "Data sources" : "Data destinations")));
                  },
                }),
              ),
            ),
          ),
        );
      }
    }
  };
  const oauth = credential.auth_method === "oauth_authorization_code";
  const consentStatus = el("div", { class: "outcome", role: "status" });
  return el(
    "div",
    { class: "actions", role: "group", "aria-label": `Actions for ${credential.name}` },
    el("button", { type: "button", text: "Test again", onclick: run(() => api("POST", `${path}/validate`)) }),
    oauth
      ? el("button", { type: "button", text: "Reconnect", onclick: run(() => reconnect(credential, consentStatus)) })
      : el("button", { type: "button", text: "Rotate secret", onclick: () => rotateSecret(credential) }),
    el("button", { type: "button", text: "Edit", onclick: () => editCredential(credential) }),
    history,
    el("button", { type: "button", text: "Delete", onclick: run(() => api("DELETE", path)) }),
    consentStatus,
  );
}

/// A small overlay with labelled fields; `submit` gets their values.
function overlay(title, fields, submitText, submit) {
  const error = alertBox();
  const dialog = el(
    "dialog",
    { "aria-label": title },
    el(
      "form",
      { method: "dialog", onsubmit: (event) => event.preventDefault() },
      el("h2", { text: title }),
      ...fields.map(fieldBlock),
      error,
      el(
        "div",
        { class: "actions" },
        el("button", {
          type: "button",
          class: "primary",
          text: submitText,
          onclick: async () => {
            error.textContent = "";
            for (const field of fields) field.error.textContent = "";
            try {
              await submit();
              close();
              await showCredentials();
            } catch (problem) {
              showFieldErrors(fields, error, problem);
            }
          },
        }),
        el("button", { type: "button", text: "Cancel", onclick: () => close() }),
      ),
    ),
  );
  const close = () => {
    for (const field of fields) field.input.value = "";
    dialog.close();
    dialog.remove();
  };
  document.body.append(dialog);
  dialog.showModal();
  fields[0].input.focus();
}

async function rotateSecret(credential) {
  const connector = await api("GET", `/v1/connectors/${encodeURIComponent(credential.connector)}`);
  const fields = schemaFields(connector.secrets_schema, "secrets", true);
  overlay(`Rotate the secret of ${credential.name}`, fields, "Save", () => {
    const secrets = {};
    for (const field of fields) if (field.input.value) secrets[field.name] = field.input.value;
    return api("PATCH", `/v1/credentials/${credential.id}`, { secrets });
  });
}

function editCredential(credential) {
  const name = el("input", { id: uid("edit-name"), required: true, maxlength: 128 });
  const description = el("textarea", { id: uid("edit-description"), maxlength: 1000, rows: 2 });
  name.value = credential.name;
  description.value = credential.description || "";
  const fields = [
    { path: "name", input: name, label: "Credential Name", error: el("p", { class: "field-error" }) },
    { path: "description", input: description, label: "Credential Description", error: el("p", { class: "field-error" }) },
  ];
  overlay(`Edit ${credential.name}`, fields, "Save", () =>
    api("PATCH", `/v1/credentials/${credential.id}`, { name: name.value.trim(), description: description.value.trim() }),
  );
}

/// Runs a connect session: a popup opens Latch's page for it (`connect_url`), from which the
/// person continues to the consent screen. The console follows the session by polling it: once
/// the popup is at the upstream it is another browsing context (every Latch page sends
/// Cross-Origin-Opener-Policy), which can neither reach this window nor be watched from it. A
/// blocked popup is said so, with Try again; Cancel ends the session. Status and buttons go in
/// `place`. The session as it ended.
async function consent(path, request, place, upstream) {
  const session = await api("POST", path, request);
  const open = () => window.open(session.connect_url, "latch-consent", "popup,width=640,height=720");
  const cancel = el("button", {
    type: "button",
    text: "Cancel",
    onclick: async () => {
      cancel.disabled = true;
      try {
        await api("POST", `/v1/connect-sessions/${session.id}/cancel`);
      } catch {
        // It ended meanwhile: the next poll says how.
      }
    },
  });
  const show = (blocked) =>
    place.replaceChildren(
      el("p", {
        text: blocked
          ? `Your browser blocked the window for the consent in ${upstream}. Allow pop-ups for this site, then try again.`
          : `Waiting for the consent in ${upstream}…`,
      }),
      blocked ? el("button", { type: "button", text: "Try again", onclick: () => show(!open()) }) : null,
      cancel,
    );
  show(!open());
  try {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const now = await api("GET", `/v1/connect-sessions/${session.id}`);
      if (now.status !== "pending") return now;
    }
  } finally {
    place.replaceChildren();
  }
}

async function reconnect(credential, place) {
  const ended = await consent(`/v1/credentials/${credential.id}/reconnect`, {}, place, credential.connector);
  if (ended.status !== "completed") throw new Problem(400, { detail: `Not reconnected: ${ended.error || ended.status}.` });
}

// The Authenticate screen: a connector's credentials as tiles, and Add Credential.

async function authenticateScreen(connector, container, onselect) {
  const error = alertBox();
  const list = el("ul", { class: "tiles" });
  container.replaceChildren(el("h2", { text: "Authenticate" }), error, list);
  let selected = null;
  const render = (items) => {
    const tiles = items.map((credential) =>
      el(
        "li",
        {},
        credentialTile(credential, {
          selected: selected === credential.id,
          onselect: (chosen) => {
            selected = chosen.id;
            render(items);
            onselect(chosen);
          },
        }),
      ),
    );
    if (can("credentials:write")) {
      tiles.push(
        el(
          "li",
          {},
          el("button", {
            type: "button",
            class: "tile add",
            text: "Add Credential",
            onclick: () =>
              addCredential(connector, async (created) => {
                selected = created.id;
                const page = await api("GET", `/v1/credentials?connector=${connector.id}&limit=200`);
                render(page.items);
                onselect(created);
              }),
          }),
        ),
      );
    }
    list.replaceChildren(...tiles);
  };
  try {
    const page = await api("GET", `/v1/credentials?connector=${encodeURIComponent(connector.id)}&limit=200`);
    render(page.items);
  } catch (problem) {
    showError(error, problem);
  }
}

// The Add Credential overlay: name, description, then the connector's own fields.

function schemaFields(schema, section, secret) {
  const required = schema.required || [];
  return Object.entries(schema.properties || {}).map(([name, property]) => {
    const id = uid(`${section}-${name}`);
    const described = `${id}-help ${id}-error`;
    // A field with choices is a list to pick from, its default picked; a long secret (a
    // private key in PEM) keeps its lines in a text area.
    const long = (secret || property.writeOnly) && property.maxLength > 1024;
    const input = long
      ? el("textarea", {
          id,
          name,
          rows: 6,
          spellcheck: false,
          autocomplete: "off",
          required: required.includes(name),
          maxlength: property.maxLength,
          "aria-describedby": described,
        })
      : property.enum
      ? el(
          "select",
          { id, name, required: required.includes(name), "aria-describedby": described },
          ...property.enum.map((choice) =>
            el("option", { value: choice, text: choice, selected: choice === property.default }),
          ),
        )
      : el("input", {
          id,
          name,
          type: secret || property.writeOnly ? "password" : String(property.pattern || "").includes("https://") ? "url" : "text",
          autocomplete: secret || property.writeOnly ? "new-password" : "off",
          required: required.includes(name),
          maxlength: property.maxLength,
          value: property.default,
          placeholder: property.examples ? property.examples[0] : null,
          "aria-describedby": described,
        });
    return {
      path: `${section}.${name}`,
      name,
      section,
      input,
      error: el("p", { class: "field-error", id: `${id}-error` }),
      node: null,
      label: property.title || name,
      help: property.description,
    };
  });
}

function fieldBlock(field) {
  field.node = el(
    "div",
    { class: "field" },
    el("label", { for: field.input.id, text: field.label }),
    field.input,
    field.help ? el("p", { class: "help", id: `${field.input.id}-help`, text: field.help }) : null,
    field.error,
  );
  return field.node;
}

// How each method a person types reads in the form's choice of how Latch signs in.
const TYPED_METHOD_LABELS = {
  client_credentials: "API key (client ID and secret)",
  oauth_client_credentials: "Client credentials (client ID and secret)",
  jwt_bearer: "Signed JWT (a private key, and whom it signs in as)",
};

// The forms of the methods a person types (the connector's `auth_methods` but consent), each
// with its own fields.
function typedForms(connector) {
  const typed = (connector.auth_methods || []).filter((method) => method.id !== "oauth_authorization_code");
  return typed.map((method) => ({
    id: method.id,
    label: TYPED_METHOD_LABELS[method.id] || method.id,
    fields: [
      ...schemaFields(method.config_schema, "config", false),
      ...schemaFields(method.secrets_schema, "secrets", true),
    ],
  }));
}

function addCredential(connector, onsaved) {
  const nameInput = el("input", { id: uid("credential-name"), required: true, maxlength: 128 });
  const descriptionInput = el("textarea", { id: uid("credential-description"), maxlength: 1000, rows: 2 });
  const nameField = {
    path: "name",
    input: nameInput,
    label: "Credential Name",
    error: el("p", { class: "field-error" }),
  };
  const descriptionField = {
    path: "description",
    input: descriptionInput,
    label: "Credential Description",
    error: el("p", { class: "field-error" }),
  };
  const forms = typedForms(connector);
  for (const form of forms) form.blocks = form.fields.map(fieldBlock);
  // The method chosen, whose fields the request sends; none while consent is chosen.
  let typed = forms[0] || null;
  let fields = [nameField, descriptionField, ...(typed ? typed.fields : [])];
  const outcome = el("div", { class: "outcome", role: "status" });
  const error = alertBox();
  const oauth = (connector.auth_methods || []).find((method) => method.id === "oauth_authorization_code");
  // Consent goes through one of the organization's OAuth apps: what the app says (hosts,
  // client ID, redirect URI) an admin registered; a person only picks it.
  const appSelect = el("select", { id: uid("oauth-app"), required: true });
  const appField = {
    path: "oauth_app_id",
    input: appSelect,
    label: "OAuth app",
    help: `The organization's OAuth client app in ${connector.name} that asks for the consent.`,
    error: el("p", { class: "field-error" }),
  };
  const oauthFields = [appField];
  const appPlace = el("div", {});
  // The ways to make one, when the connector offers more than one: only the chosen way's
  // fields are in the form.
  const keyActions = el(
    "div",
    { class: "actions" },
    el("button", { type: "button", text: "Test", onclick: () => test() }),
    el("button", { type: "button", class: "primary", text: "Save", onclick: () => save() }),
    el("button", { type: "button", text: "Cancel", onclick: () => close() }),
  );
  const connectButton = el("button", {
    type: "button",
    class: "primary",
    text: `Connect with ${connector.name}`,
    onclick: () => connect(),
  });
  const oauthActions = el(
    "div",
    { class: "actions" },
    connectButton,
    el("button", { type: "button", text: "Cancel", onclick: () => close() }),
  );
  const registerButton = (text, after) =>
    can("admin")
      ? el("button", { type: "button", text, onclick: () => registerOAuthApp(connector, (app) => after(app)) })
      : null;
  async function loadApps(chosen) {
    connectButton.disabled = true;
    let page;
    try {
      page = await api("GET", `/v1/oauth-apps?connector=${encodeURIComponent(connector.id)}&limit=200`);
    } catch (problem) {
      showError(error, problem);
      return;
    }
    if (!page.items.length) {
      appPlace.replaceChildren(
        el("p", {
          text:
            `No OAuth app for ${connector.name} is registered in your organization yet. ` +
            (can("admin") ? "Register one first." : "An admin registers one first."),
        }),
        registerButton("Register an OAuth app", (app) => loadApps(app.id)),
      );
      return;
    }
    appSelect.replaceChildren(
      ...page.items.map((app) => el("option", { value: app.id, text: appLabel(app), selected: app.id === chosen })),
    );
    appPlace.replaceChildren(
      fieldBlock(appField),
      registerButton("Register another OAuth app", (app) => loadApps(app.id)),
    );
    connectButton.disabled = false;
  }
  const methodFields = el("div", {}, ...(typed ? typed.blocks : []), outcome, error, typed ? keyActions : null);
  const choose = (form) => {
    clearErrors();
    typed = form;
    fields = [nameField, descriptionField, ...(form ? form.fields : [])];
    if (!form) {
      methodFields.replaceChildren(appPlace, outcome, error, oauthActions);
      loadApps(appSelect.value);
    } else methodFields.replaceChildren(...form.blocks, outcome, error, keyActions);
  };
  const radio = (text, checked, form) => {
    const id = uid("method");
    return el(
      "div",
      {},
      el("input", { type: "radio", name: "method", id, checked, onchange: () => choose(form) }),
      el("label", { for: id, text, class: "inline" }),
    );
  };
  const choices = [
    ...forms.map((form, index) => radio(form.label, index === 0, form)),
    ...(oauth ? [radio(`Consent in ${connector.name}`, !forms.length, null)] : []),
  ];
  const methods =
    choices.length > 1 ? el("fieldset", {}, el("legend", { text: "How Latch signs in" }), ...choices) : null;
  const dialog = el(
    "dialog",
    { "aria-labelledby": "add-credential-title" },
    el(
      "form",
      { method: "dialog", onsubmit: (event) => event.preventDefault() },
      el("h2", { id: "add-credential-title", text: `Add Credential: ${connector.name}` }),
      fieldBlock(nameField),
      fieldBlock(descriptionField),
      methods,
      methodFields,
    ),
  );
  async function connect() {
    clearErrors();
    for (const field of oauthFields) field.error.textContent = "";
    const request = { oauth_app_id: appSelect.value };
    if (nameInput.value.trim()) request.name = nameInput.value.trim();
    if (descriptionInput.value.trim()) request.description = descriptionInput.value.trim();
    try {
      const ended = await consent("/v1/connect-sessions", request, outcome, connector.name);
      if (ended.status !== "completed") {
        outcome.textContent = "";
        error.textContent = `Not connected: ${ended.error || ended.status}.`;
        return;
      }
      const created = await api("GET", `/v1/credentials/${ended.credential_id}`);
      close();
      await onsaved(created);
    } catch (problem) {
      outcome.textContent = "";
      const listed = (problem.body && problem.body.errors) || [];
      for (const item of listed) {
        const field = item.field === "name" ? fields[0] : oauthFields.find((candidate) => candidate.path === item.field);
        if (field) field.error.textContent = item.message;
      }
      showError(error, problem);
    }
  }

  const body = () => {
    const request = { connector: connector.id, config: {}, secrets: {} };
    if (typed) request.auth_method = typed.id;
    for (const field of fields) {
      const value = field.input.value.trim();
      if (field.section) {
        if (value) request[field.section][field.name] = value;
      } else if (value) {
        request[field.path] = value;
      }
    }
    return request;
  };
  const clearErrors = () => {
    error.textContent = "";
    outcome.textContent = "";
    for (const field of fields) {
      field.error.textContent = "";
      field.input.removeAttribute("aria-invalid");
    }
  };
  const showProblem = (problem) => {
    const listed = (problem.body && problem.body.errors) || [];
    let placed = 0;
    for (const item of listed) {
      const field = fields.find((candidate) => candidate.path === item.field);
      if (field) {
        field.error.textContent = item.message;
        field.input.setAttribute("aria-invalid", "true");
        placed += 1;
      }
    }
    if (placed < listed.length || !listed.length) error.textContent = problem.message;
  };
  const forgetSecrets = () => {
    for (const form of forms) for (const field of form.fields) if (field.section === "secrets") field.input.value = "";
  };
  const close = () => {
    forgetSecrets();
    dialog.close();
    dialog.remove();
  };
  async function test() {
    clearErrors();
    const request = body();
    delete request.name;
    delete request.description;
    try {
      const result = await api("POST", "/v1/credentials/test", request);
      outcome.textContent = `${statusText[result.status] || result.status}: ${result.detail}`;
    } catch (problem) {
      showProblem(problem);
    }
  }
  async function save() {
    clearErrors();
    try {
      const created = await api("POST", "/v1/credentials", body());
      close();
      await onsaved(created);
    } catch (problem) {
      showProblem(problem);
    }
  }
  dialog.addEventListener("close", forgetSecrets);
  document.body.append(dialog);
  // A connector that makes credentials by consent only opens on its OAuth apps.
  if (!typed && oauth) choose(null);
  dialog.showModal();
  nameInput.focus();
}

// OAuth apps ----------------------------------------------------------------------------

function appLabel(app) {
  const config = app.config || {};
  return [app.name, config.client_id && `client ${config.client_id}`, config.ui_host_url].filter(Boolean).join(" · ");
}

function copyable(text, label) {
  const output = el("output", { class: "copyable", text, "aria-label": label });
  const said = el("span", { role: "status" });
  return el(
    "div",
    { class: "copy" },
    output,
    el("button", {
      type: "button",
      text: "Copy",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(text);
          said.textContent = "Copied";
        } catch {
          said.textContent = "Select the text to copy it";
        }
      },
    }),
    said,
  );
}

async function showOAuthApps() {
  const error = alertBox();
  const rows = el("tbody");
  const register = el("button", {
    type: "button",
    class: "primary",
    text: "Register OAuth app",
    onclick: () => chooseConnector(),
  });
  main.replaceChildren(
    el("h1", { text: "OAuth apps" }),
    el("p", {
      text:
        "An OAuth app is your organization's client app at an upstream such as Looker. Consent " +
        "through it can only come back to this organization, at the app's redirect URI.",
    }),
    can("admin") ? register : null,
    error,
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ...["Name", "Connector", "Client ID", "Redirect URI"].map((text) => el("th", { text })))),
      rows,
    ),
  );
  let connectors = [];
  try {
    const [apps, listed] = await Promise.all([api("GET", "/v1/oauth-apps?limit=200"), api("GET", "/v1/connectors")]);
    connectors = listed.items.filter((connector) =>
      (connector.auth_methods || []).some((method) => method.id === "oauth_authorization_code"),
    );
    rows.replaceChildren(
      ...apps.items.map((app) =>
        el(
          "tr",
          {},
          el("td", { text: app.name }),
          el("td", { text: app.connector }),
          el("td", { text: (app.config && app.config.client_id) || "" }),
          el("td", {}, copyable(app.redirect_uri, `Redirect URI of ${app.name}`)),
        ),
      ),
    );
    if (!apps.items.length) {
      rows.replaceChildren(el("tr", {}, el("td", { colspan: "4", text: "No OAuth apps yet." })));
    }
  } catch (problem) {
    showError(error, problem);
  }
  function chooseConnector() {
    if (connectors.length === 1) {
      registerOAuthApp(connectors[0], () => showOAuthApps());
      return;
    }
    const choices = el(
      "ul",
      { class: "tiles" },
      ...connectors.map((connector) =>
        el("li", {}, el("button", { type: "button", class: "tile", text: connector.name, onclick: () => registerOAuthApp(connector, () => showOAuthApps()) })),
      ),
    );
    register.replaceWith(choices);
  }
}

/// The Register OAuth app overlay: the app's name and settings, then its redirect URI, which
/// the upstream's admin registers for the app's client ID. `onregistered` gets the app once
/// the person is done.
function registerOAuthApp(connector, onregistered) {
  const method = (connector.auth_methods || []).find((candidate) => candidate.id === "oauth_authorization_code");
  const nameInput = el("input", { id: uid("app-name"), required: true, maxlength: 128 });
  const descriptionInput = el("textarea", { id: uid("app-description"), maxlength: 1000, rows: 2 });
  const fields = [
    { path: "name", input: nameInput, label: "App Name", error: el("p", { class: "field-error" }) },
    { path: "description", input: descriptionInput, label: "App Description", error: el("p", { class: "field-error" }) },
    ...schemaFields(method.config_schema, "config", false),
    ...schemaFields(method.secrets_schema, "secrets", true),
  ];
  const error = alertBox();
  const body = el("div", {}, ...fields.map(fieldBlock), error);
  const registerButton = el("button", { type: "button", class: "primary", text: "Register", onclick: () => register() });
  const actions = el(
    "div",
    { class: "actions" },
    registerButton,
    el("button", { type: "button", text: "Cancel", onclick: () => close() }),
  );
  const dialog = el(
    "dialog",
    { "aria-label": `Register an OAuth app: ${connector.name}` },
    el(
      "form",
      { method: "dialog", onsubmit: (event) => event.preventDefault() },
      el("h2", { text: `Register an OAuth app: ${connector.name}` }),
      body,
      actions,
    ),
  );
  const close = () => {
    for (const field of fields) if (field.section === "secrets") field.input.value = "";
    dialog.close();
    dialog.remove();
  };
  async function register() {
    error.textContent = "";
    const request = { name: nameInput.value.trim(), connector: connector.id, config: {} };
    if (descriptionInput.value.trim()) request.description = descriptionInput.value.trim();
    const secrets = {};
    for (const field of fields) {
      field.error.textContent = "";
      const value = field.input.value.trim();
      if (field.section === "config" && value) request.config[field.name] = value;
      if (field.section === "secrets" && value) secrets[field.name] = value;
    }
    if (Object.keys(secrets).length) request.secrets = secrets;
    registerButton.disabled = true;
    try {
      const app = await api("POST", "/v1/oauth-apps", request);
      close();
      showRedirect(app);
    } catch (problem) {
      showFieldErrors(fields, error, problem);
    } finally {
      registerButton.disabled = false;
    }
  }
  function showRedirect(app) {
    const done = el("dialog", { "aria-label": `${app.name} is registered` });
    done.append(
      el("h2", { text: `${app.name} is registered` }),
      el("p", {
        text:
          `Give this redirect URI to your ${connector.name} admin, who registers it for the client ID ` +
          `${(app.config && app.config.client_id) || ""}. Consent through the app works once it is registered there.`,
      }),
      copyable(app.redirect_uri, "Redirect URI"),
      el(
        "div",
        { class: "actions" },
        el("button", {
          type: "button",
          class: "primary",
          text: "Done",
          onclick: () => {
            done.close();
            done.remove();
            onregistered(app);
          },
        }),
      ),
    );
    document.body.append(done);
    done.showModal();
  }
  document.body.append(dialog);
  dialog.showModal();
  nameInput.focus();
}

// Data sources and destinations ---------------------------------------------------------

const kinds = {
  source: { path: "/v1/data-sources", title: "Data sources", one: "data source", New: "New data source", name: "Data source name" },
  destination: { path: "/v1/data-destinations", title: "Data destinations", one: "data destination", New: "New data destination", name: "Data destination name" },
};

async function showDataSources(kind) {
  const info = kinds[kind];
  const error = alertBox();
  const table = el("tbody");
  main.replaceChildren(
    el("h1", { text: info.title }),
    can("credentials:write")
      ? el("button", { type: "button", class: "primary", text: info.New, onclick: () => newDataSource(kind) })
      : null,
    error,
    el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Name" }), el("th", { text: "Connector" }), el("th", { text: "Credential" }))), table),
  );
  try {
    const [sources, credentials] = await Promise.all([
      api("GET", `${info.path}?limit=200`),
      api("GET", "/v1/credentials?limit=200"),
    ]);
    const names = new Map(credentials.items.map((credential) => [credential.id, credential.name]));
    table.replaceChildren(
      ...sources.items.map((source) =>
        el("tr", {}, el("td", { text: source.name }), el("td", { text: source.connector }), el("td", { text: names.get(source.credential_id) || source.credential_id })),
      ),
    );
  } catch (problem) {
    showError(error, problem);
  }
}

async function newDataSource(kind) {
  const info = kinds[kind];
  const error = alertBox();
  const step = el("section");
  main.replaceChildren(el("h1", { text: info.New }), error, step);
  let connectors;
  try {
    connectors = (await api("GET", "/v1/connectors")).items;
  } catch (problem) {
    showError(error, problem);
    return;
  }
  step.replaceChildren(
    el("h2", { text: "Choose the connector" }),
    el(
      "ul",
      { class: "tiles" },
      ...connectors.map((connector) =>
        el("li", {}, el("button", { type: "button", class: "tile", text: connector.name, onclick: () => chosen(connector) })),
      ),
    ),
  );

  function chosen(connector) {
    const authenticate = el("section");
    const details = el("section");
    step.replaceChildren(authenticate, details);
    authenticateScreen(connector, authenticate, (credential) => describe(connector, credential, details));
  }

  function describe(connector, credential, details) {
    const nameInput = el("input", { id: uid("source-name"), required: true, maxlength: 128 });
    const descriptionInput = el("textarea", { id: uid("source-description"), maxlength: 1000, rows: 2 });
    const problem = alertBox();
    details.replaceChildren(
      el("h2", { text: `Using ${credential.name}` }),
      el("div", { class: "field" }, el("label", { for: nameInput.id, text: info.name }), nameInput),
      el("div", { class: "field" }, el("label", { for: descriptionInput.id, text: "Description" }), descriptionInput),
      problem,
      el("button", {
        type: "button",
        class: "primary",
        text: "Create",
        onclick: async () => {
          problem.textContent = "";
          const request = { name: nameInput.value.trim(), connector: connector.id, credential_id: credential.id, config: {} };
          if (descriptionInput.value.trim()) request.description = descriptionInput.value.trim();
          try {
            const created = await api("POST", info.path, request);
            showCreated(kind, created, credential);
          } catch (failure) {
            showError(problem, failure);
          }
        },
      }),
    );
    nameInput.focus();
  }
}

function showCreated(kind, source, credential) {
  const info = kinds[kind];
  const keyBox = el("section");
  main.replaceChildren(
    el("h1", { text: source.name }),
    el("p", { text: `This ${info.one} uses the credential ${credential.name}.` }),
    keyBox,
  );
  if (!can("admin")) return;
  keyBox.replaceChildren(
    el("button", {
      type: "button",
      text: "Create job key",
      onclick: async () => {
        try {
          const created = await api("POST", `${info.path}/${source.id}/job-keys`, {});
          const output = el("output", { text: created.key });
          keyBox.replaceChildren(
            el("p", { text: "The job key, shown once: store it now." }),
            output,
            el("button", { type: "button", text: "Copy", onclick: () => navigator.clipboard.writeText(output.textContent) }),
          );
        } catch (problem) {
          keyBox.append(el("p", { role: "alert", text: problem.message }));
        }
      },
    }),
  );
}

// Audit ---------------------------------------------------------------------------------

async function showAudit() {
  const error = alertBox();
  const rows = el("tbody");
  const action = el("input", { id: uid("audit-action"), placeholder: "credential.created" });
  const target = el("input", { id: uid("audit-target"), placeholder: "an id" });
  const load = async () => {
    error.textContent = "";
    const query = new URLSearchParams({ order: "newest", limit: "100" });
    if (action.value.trim()) query.set("action", action.value.trim());
    if (target.value.trim()) query.set("target_id", target.value.trim());
    try {
      const page = await api("GET", `/v1/audit-events?${query}`);
      rows.replaceChildren(
        ...page.items.map((event) =>
          el("tr", {}, el("td", { text: when(event.at) }), el("td", { text: event.action }), el("td", { text: `${event.target_type} ${event.target_id || ""}` }), el("td", { text: event.outcome })),
        ),
      );
    } catch (problem) {
      rows.replaceChildren();
      showError(error, problem);
    }
  };
  main.replaceChildren(
    el("h1", { text: "Audit" }),
    el(
      "form",
      { class: "filters", onsubmit: (event) => { event.preventDefault(); load(); } },
      el("div", { class: "field" }, el("label", { for: action.id, text: "Action" }), action),
      el("div", { class: "field" }, el("label", { for: target.id, text: "Target" }), target),
      el("button", { type: "submit", text: "Filter" }),
    ),
    error,
    el("table", {}, el("thead", {}, el("tr", {}, ...["When", "Action", "Target", "Outcome"].map((text) => el("th", { text })))), rows),
  );
  await load();
}

// Start ---------------------------------------------------------------------------------

signOut.addEventListener("click", () => forget());

if (sessionStorage.getItem(KEY)) {
  api("GET", "/v1/me")
    .then((who) => {
      me = who;
      start();
    })
    .catch(() => forget());
} else {
  showSignIn();
}
