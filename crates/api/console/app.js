// The Latch console: plain DOM code over the public REST API. The API key lives in
// sessionStorage only; it is sent in the Authorization header, never in a URL.

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
  { name: "Audit", scope: "admin", show: () => showAudit() },
];

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
    const page = await api("GET", "/v1/credentials?limit=200");
    list.replaceChildren(...page.items.map((credential) => el("li", {}, credentialTile(credential))));
    if (!page.items.length) list.replaceChildren(el("li", { text: "No credentials yet." }));
  } catch (problem) {
    showError(error, problem);
  }
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
    const input = el("input", {
      id,
      name,
      type: secret || property.writeOnly ? "password" : property.format === "uri" ? "url" : "text",
      autocomplete: secret || property.writeOnly ? "new-password" : "off",
      required: required.includes(name),
      maxlength: property.maxLength,
      placeholder: property.examples ? property.examples[0] : null,
      "aria-describedby": `${id}-help ${id}-error`,
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

function addCredential(connector, onsaved) {
  const nameInput = el("input", { id: uid("credential-name"), required: true, maxlength: 128 });
  const descriptionInput = el("textarea", { id: uid("credential-description"), maxlength: 1000, rows: 2 });
  const fields = [
    {
      path: "name",
      input: nameInput,
      label: "Credential Name",
      error: el("p", { class: "field-error" }),
    },
    {
      path: "description",
      input: descriptionInput,
      label: "Credential Description",
      error: el("p", { class: "field-error" }),
    },
    ...schemaFields(connector.config_schema, "config", false),
    ...schemaFields(connector.secrets_schema, "secrets", true),
  ];
  const outcome = el("div", { class: "outcome", role: "status" });
  const error = alertBox();
  const dialog = el(
    "dialog",
    { "aria-labelledby": "add-credential-title" },
    el(
      "form",
      { method: "dialog", onsubmit: (event) => event.preventDefault() },
      el("h2", { id: "add-credential-title", text: `Add Credential: ${connector.name}` }),
      ...fields.map(fieldBlock),
      outcome,
      error,
      el(
        "div",
        { class: "actions" },
        el("button", { type: "button", text: "Test", onclick: () => test() }),
        el("button", { type: "button", class: "primary", text: "Save", onclick: () => save() }),
        el("button", { type: "button", text: "Cancel", onclick: () => close() }),
      ),
    ),
  );

  const body = () => {
    const request = { connector: connector.id, config: {}, secrets: {} };
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
    const why = problem.body && problem.body.outcome ? ` (${problem.body.outcome.status})` : "";
    if (placed < listed.length || !listed.length) error.textContent = problem.message + why;
  };
  const forgetSecrets = () => {
    for (const field of fields) if (field.section === "secrets") field.input.value = "";
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
  main.replaceChildren(
    el("h1", { text: "Audit" }),
    error,
    el("table", {}, el("thead", {}, el("tr", {}, ...["When", "Action", "Target", "Outcome"].map((text) => el("th", { text })))), rows),
  );
  try {
    const page = await api("GET", "/v1/audit-events?order=newest&limit=100");
    rows.replaceChildren(
      ...page.items.map((event) =>
        el("tr", {}, el("td", { text: when(event.at) }), el("td", { text: event.action }), el("td", { text: `${event.target_type} ${event.target_id || ""}` }), el("td", { text: event.outcome })),
      ),
    );
  } catch (problem) {
    showError(error, problem);
  }
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
