// Credentials: the list (search, filters, order, pages, Add first), one credential's page
// (test, rotate or reconnect, edit, history, delete after asking), and the Authenticate
// screen that picks one for a data source or destination.

import {
  el, api, everything, can, show, alertBox, showError, statusText, when, link, navigate, modal,
  confirmAction, busy, outcome, emptyState, pagedList, uid, readable, label,
} from "./{{ui.js}}";
import { addCredential, overlay, plainField, schemaFields } from "./{{forms.js}}";
import { reconnect } from "./{{consent.js}}";

const PAGE = 24;

/// The statuses the filter offers; "needs attention" is every broken one.
const STATUS_FILTERS = [
  ["", "Any status"],
  ["reauthorization_required,invalid,degraded", "Needs attention"],
  ["valid", "valid"],
  ["invalid", "invalid"],
  ["degraded", "degraded"],
  ["reauthorization_required", "reauthorization required"],
  ["unverified", "unverified"],
];

const SORTS = [
  ["attention", "Needs attention first"],
  ["name", "Name"],
  ["newest", "Newest"],
  ["created", "Oldest"],
];

let connectorsCache = null;

/// The connectors, read once per page load.
export async function connectors() {
  if (!connectorsCache) connectorsCache = (await api("GET", "/v1/connectors")).items;
  return connectorsCache;
}

function statusBadge(status) {
  return el("span", { class: `status ${status}`, text: statusText[status] || status });
}

/// A credential as a tile: a link to its page, or, with `onselect`, a button that picks it.
export function credentialTile(credential, { selected, onselect, connector } = {}) {
  const who = credential.identity && (credential.identity.display_name || credential.identity.email);
  const used = credential.used_by || { data_sources: 0, data_destinations: 0 };
  const content = [
    el("h3", { text: credential.name, title: credential.name }),
    connector ? el("p", { class: "connector", text: connector }) : null,
    credential.description ? el("p", { class: "description", text: credential.description, title: credential.description }) : null,
    el("p", {}, statusBadge(credential.status), credential.status_detail ? ` ${readable(credential.status_detail)}` : ""),
    who ? el("p", { text: `connected as ${who}` }) : null,
    credential.status !== "valid" && credential.status_since
      ? el("p", { text: `${statusText[credential.status] || credential.status} since ${when(credential.status_since)}` })
      : null,
    el("p", { text: `last tested: ${when(credential.validated_at)}` }),
    el("p", { text: `used by ${used.data_sources} data source(s) and ${used.data_destinations} destination(s)` }),
  ];
  if (onselect) {
    return el(
      "button",
      { type: "button", class: "tile", "aria-pressed": String(!!selected), "data-credential-id": credential.id, onclick: () => onselect(credential) },
      ...content,
    );
  }
  const tile = link("", `/console/credentials/${credential.id}`, { class: "tile", "data-credential-id": credential.id });
  tile.replaceChildren(...content.filter(Boolean));
  return tile;
}

/// Asks which connector, then opens Add Credential for it; `onsaved` gets the credential.
export async function chooseConnectorAndAdd(onsaved) {
  const listed = await connectors();
  if (listed.length === 1) {
    addCredential(listed[0], onsaved);
    return;
  }
  const dialog = modal(
    "Add a credential",
    el("h2", { text: "Add a credential: which connector?" }),
    el(
      "ul",
      { class: "tiles" },
      ...listed.map((connector) =>
        el("li", {}, el("button", { type: "button", class: "tile", text: connector.name, onclick: () => { dialog.close(); addCredential(connector, onsaved); } })),
      ),
    ),
    el("div", { class: "actions" }, el("button", { type: "button", text: "Cancel", onclick: () => dialog.close() })),
  );
  dialog.querySelector("button.tile").focus();
}

function addTile(text, onclick) {
  return el("li", {}, el("button", { type: "button", class: "tile add", text, onclick }));
}

/// The Credentials screen; `params` are the address's query (q, status, connector, sort).
export async function showCredentials(params) {
  const error = alertBox();
  const list = el("ul", { class: "tiles", "aria-label": "Credentials" });
  const search = el("input", { id: uid("search"), type: "search", value: params.get("q") || "", maxlength: 128, autocomplete: "off" });
  const status = el("select", { id: uid("status") }, ...STATUS_FILTERS.map(([value, text]) => el("option", { value, text, selected: value === (params.get("status") || "") })));
  const connector = el("select", { id: uid("connector") }, el("option", { value: "", text: "Any connector" }));
  const sort = el("select", { id: uid("sort") }, ...SORTS.map(([value, text]) => el("option", { value, text, selected: value === (params.get("sort") || "attention") })));
  const apply = () => {
    const query = new URLSearchParams();
    if (search.value.trim()) query.set("q", search.value.trim());
    if (status.value) query.set("status", status.value);
    if (connector.value) query.set("connector", connector.value);
    if (sort.value !== "attention") query.set("sort", sort.value);
    const text = query.toString();
    navigate(`/console/credentials${text ? `?${text}` : ""}`, { replace: true });
  };
  for (const control of [status, connector, sort]) control.addEventListener("change", apply);
  const filters = el(
    "form",
    { class: "filters", role: "search", onsubmit: (event) => { event.preventDefault(); apply(); } },
    el("div", { class: "field" }, label(search.id, "Search"), search),
    el("div", { class: "field" }, label(status.id, "Status"), status),
    el("div", { class: "field" }, label(connector.id, "Connector"), connector),
    el("div", { class: "field" }, label(sort.id, "Sort"), sort),
    el("button", { type: "submit", text: "Search" }),
  );
  show(el("h1", { text: "Credentials" }), filters, error, list);
  try {
    const listed = await connectors();
    const names = new Map(listed.map((each) => [each.id, each.name]));
    connector.append(...listed.map((each) => el("option", { value: each.id, text: each.name, selected: each.id === params.get("connector") })));
    const added = (created) => navigate(`/console/credentials/${created.id}`);
    if (can("credentials:write")) list.append(addTile("Add Credential", () => chooseConnectorAndAdd(added)));
    const query = new URLSearchParams({ limit: String(PAGE), sort: sort.value });
    for (const name of ["q", "status", "connector"]) if (params.get(name)) query.set(name, params.get(name));
    const first = await pagedList(
      list,
      (cursor) => api("GET", `/v1/credentials?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`),
      (credential) => el("li", {}, credentialTile(credential, { connector: names.get(credential.connector) })),
      { error },
    );
    if (!first.length) {
      const filtered = ["q", "status", "connector"].some((name) => params.get(name));
      list.after(
        filtered
          ? emptyState("No credential matches these filters.", el("button", { type: "button", text: "Clear filters", onclick: () => navigate("/console/credentials", { replace: true }) }))
          : emptyState(
              "No credentials yet. A credential is how Latch signs in to a system for your data sources and destinations.",
              can("credentials:write") ? el("button", { type: "button", class: "primary", text: "Add credential", onclick: () => chooseConnectorAndAdd(added) }) : null,
            ),
      );
    }
  } catch (problem) {
    showError(error, problem);
  }
  if (params.get("q")) search.focus();
}

/// A credential's health: now, since when, and its latest status changes.
async function showHealth(credential) {
  const health = await api("GET", `/v1/credentials/${credential.id}/health`);
  const cell = (text) => el("td", { text: text || "" });
  const dialog = modal(
    `Health of ${credential.name}`,
    el("h2", { text: `Health of ${credential.name}` }),
    el("p", { text: `${statusText[health.status] || health.status} since ${when(health.since)}` + (health.status_detail ? `: ${readable(health.status_detail)}` : "") }),
    el("p", {
      text: `failures in a row: ${health.consecutive_failures}` + (health.last_failure ? ` (last: ${readable(health.last_failure)})` : "") + `; last token: ${when(health.last_token_at)}`,
    }),
    el(
      "div",
      { class: "scroll" },
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, ...["When", "From", "To", "Measured by", "Why"].map((name) => el("th", { text: name })))),
        el(
          "tbody",
          {},
          ...health.changes.map((change) =>
            el("tr", {}, cell(when(change.at)), cell(change.from ? statusText[change.from] || change.from : "(saved)"), cell(statusText[change.to] || change.to), cell(change.cause), cell(readable(change.detail || ""))),
          ),
        ),
      ),
    ),
    el("div", { class: "actions" }, el("button", { type: "button", text: "Close", onclick: () => dialog.close() })),
  );
}

/// Where a data source or destination of the organization is shown.
export function sourcePath(kind, id) {
  return `/console/${kind === "source" ? "data-sources" : "data-destinations"}/${id}`;
}

/// One credential's page; `note` is what the last action found, shown at the top.
export async function showCredential(id, note) {
  const error = alertBox();
  show(el("h1", { text: "Credential" }), error);
  let credential;
  let users;
  try {
    credential = await api("GET", `/v1/credentials/${id}`);
    const [sources, destinations] = await Promise.all([
      everything(`/v1/data-sources?credential_id=${id}`),
      everything(`/v1/data-destinations?credential_id=${id}`),
    ]);
    users = [...sources.map((each) => ({ ...each, kind: "source" })), ...destinations.map((each) => ({ ...each, kind: "destination" }))];
  } catch (problem) {
    showError(error, problem);
    if (problem.status === 404) error.append(" ", link("All credentials", "/console/credentials"));
    return;
  }
  const said = el("div", { class: "outcome", role: "status" });
  const path = `/v1/credentials/${credential.id}`;
  const reload = () => showCredential(id);
  const actions = el("div", { class: "actions", role: "group", "aria-label": `Actions for ${credential.name}` });
  const controls = () => [...actions.querySelectorAll("button")];
  const history = el("button", { type: "button", text: "History", onclick: () => showHealth(credential).catch((problem) => showError(error, problem)) });
  actions.append(history);
  const danger = el("section", { class: "danger-zone", "aria-label": "Delete" });
  if (can("credentials:write")) {
    const oauth = credential.auth_method === "oauth_authorization_code";
    const testAgain = el("button", {
      type: "button",
      text: "Test again",
      onclick: () =>
        busy(controls(), said, "Testing the login…", async () => {
          error.textContent = "";
          try {
            const tested = await api("POST", `${path}/validate`);
            const detail = tested.status_detail ? `: ${readable(tested.status_detail)}` : "";
            await showCredential(id, { good: tested.status === "valid", text: `Tested: ${statusText[tested.status] || tested.status}${detail}` });
          } catch (problem) {
            showError(error, problem);
          }
        }),
    });
    actions.prepend(
      testAgain,
      oauth
        ? el("button", {
            type: "button",
            text: "Reconnect",
            onclick: async () => {
              try {
                await reconnect(credential, said);
                await reload();
              } catch (problem) {
                showError(error, problem);
              }
            },
          })
        : el("button", { type: "button", text: "Rotate secret", onclick: () => rotateSecret(credential, reload) }),
      el("button", { type: "button", text: "Edit", onclick: () => editCredential(credential, reload) }),
    );
    danger.append(
      el("h2", { text: "Delete" }),
      el("p", { class: "help", text: "Deleting forgets the secret at once. A credential in use is not deleted: point its data sources and destinations elsewhere first." }),
      el("button", {
        type: "button",
        class: "danger",
        text: "Delete credential",
        onclick: async () => {
          const sure = await confirmAction({ title: `Delete ${credential.name}?`, text: `The credential ${credential.name} and its sealed secret are deleted. This cannot be undone.`, action: "Delete" });
          if (!sure) return;
          try {
            await api("DELETE", path, undefined, { "If-Match": `"${credential.version}"` });
            navigate("/console/credentials");
          } catch (problem) {
            showError(error, problem);
            if (problem.body && problem.body.used_by) {
              error.append(
                el("ul", {}, ...problem.body.used_by.map((user) => el("li", {}, link(`${user.kind === "source" ? "Data source" : "Data destination"} ${user.name}`, sourcePath(user.kind, user.id))))),
              );
            }
          }
        },
      }),
    );
  }
  const who = credential.identity && (credential.identity.display_name || credential.identity.email);
  const facts = el(
    "dl",
    { class: "facts" },
    el("dt", { text: "Status" }),
    el("dd", {}, statusBadge(credential.status), credential.status_detail ? ` ${readable(credential.status_detail)}` : ""),
    el("dt", { text: "Connector" }),
    el("dd", { text: credential.connector }),
    credential.description ? [el("dt", { text: "Description" }), el("dd", { text: credential.description })] : null,
    who ? [el("dt", { text: "Connected as" }), el("dd", { text: who })] : null,
    el("dt", { text: "Last tested" }),
    el("dd", { text: when(credential.validated_at) }),
  );
  if (note) outcome(said, note.good, note.text);
  show(
    el("p", { class: "crumbs" }, link("Credentials", "/console/credentials")),
    el("h1", { class: "name", text: credential.name }),
    facts,
    said,
    error,
    actions,
    el("h2", { text: "Used by" }),
    users.length
      ? el("ul", {}, ...users.map((user) => el("li", {}, link(`${user.kind === "source" ? "Data source" : "Data destination"} ${user.name}`, sourcePath(user.kind, user.id)))))
      : el("p", { text: "No data source or destination uses it yet." }),
    can("admin") ? el("p", {}, link("Audit events", `/console/audit?target_id=${credential.id}`)) : null,
    can("credentials:write") ? danger : null,
  );
}

async function rotateSecret(credential, after) {
  const connector = await api("GET", `/v1/connectors/${encodeURIComponent(credential.connector)}`);
  const method = (connector.auth_methods || []).find((each) => each.id === credential.auth_method);
  const fields = schemaFields((method && method.secrets_schema) || connector.secrets_schema, "secrets", true);
  overlay(`Rotate the secret of ${credential.name}`, fields, "Save", () => {
    const secrets = {};
    for (const field of fields) if (field.input.value) secrets[field.name] = field.input.value;
    return api("PATCH", `/v1/credentials/${credential.id}`, { secrets });
  }, after);
}

function editCredential(credential, after) {
  const fields = [
    plainField("name", "Credential Name", { required: true, value: credential.name }),
    plainField("description", "Credential Description", { long: true, value: credential.description || "" }),
  ];
  overlay(`Edit ${credential.name}`, fields, "Save", () =>
    api("PATCH", `/v1/credentials/${credential.id}`, { name: fields[0].input.value.trim(), description: fields[1].input.value.trim() }),
  after);
}

/// The Authenticate screen: a connector's credentials as tiles to pick, Add Credential
/// first. `onselect` gets the one picked; `selectedId` is picked already.
export async function authenticateScreen(connector, container, onselect, selectedId) {
  const error = alertBox();
  const list = el("ul", { class: "tiles", "aria-label": `Credentials of ${connector.name}` });
  container.replaceChildren(el("h2", { text: "Authenticate" }), el("p", { class: "help", text: `Pick the ${connector.name} credential it signs in with, or add one.` }), error, list);
  let selected = selectedId || null;
  const pick = (credential) => {
    selected = credential.id;
    for (const tile of list.querySelectorAll("button.tile[data-credential-id]")) {
      tile.setAttribute("aria-pressed", String(tile.dataset.credentialId === selected));
    }
    onselect(credential);
  };
  const render = (credential) => el("li", {}, credentialTile(credential, { selected: selected === credential.id, onselect: pick }));
  if (can("credentials:write")) {
    list.append(
      addTile("Add Credential", () =>
        addCredential(connector, (created) => {
          list.children[0].after(render(created));
          pick(created);
        }),
      ),
    );
  }
  try {
    const first = await pagedList(
      list,
      (cursor) => api("GET", `/v1/credentials?connector=${encodeURIComponent(connector.id)}&sort=attention&limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`),
      render,
      { error },
    );
    const chosen = selectedId && first.find((credential) => credential.id === selectedId);
    if (chosen) onselect(chosen);
    else if (selectedId) {
      try {
        onselect(await api("GET", `/v1/credentials/${selectedId}`));
      } catch {
        // Gone meanwhile: nothing is picked.
      }
    }
  } catch (problem) {
    showError(error, problem);
  }
}
