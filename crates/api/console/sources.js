// Data sources and destinations: their lists, the New flow (connector, Authenticate, name),
// and each one's page: settings, its credential, its job keys, delete.

import {
  el, api, everything, can, show, alertBox, showError, showFieldErrors, clearFieldErrors, when, link,
  navigate, confirmAction, busy, outcome, emptyState, pagedList, copyable, label, readable, uid,
} from "./{{ui.js}}";
import { fieldBlock, plainField } from "./{{forms.js}}";
import { authenticateScreen, connectors } from "./{{credentials.js}}";

export const kinds = {
  source: { path: "/v1/data-sources", console: "/console/data-sources", title: "Data sources", one: "data source", New: "New data source", name: "Data source name" },
  destination: { path: "/v1/data-destinations", console: "/console/data-destinations", title: "Data destinations", one: "data destination", New: "New data destination", name: "Data destination name" },
};

function newButton(kind, primary = true) {
  return el("button", { type: "button", class: primary ? "primary" : null, text: kinds[kind].New, onclick: () => navigate(`${kinds[kind].console}/new`) });
}

export async function showDataSources(kind) {
  const info = kinds[kind];
  const error = alertBox();
  const rows = el("tbody");
  const table = el("div", { class: "scroll" }, el("table", {}, el("thead", {}, el("tr", {}, ...["Name", "Connector", "Credential"].map((text) => el("th", { text })))), rows));
  show(el("h1", { text: info.title }), can("credentials:write") ? newButton(kind) : null, error, table);
  try {
    const [credentials, listed] = await Promise.all([everything("/v1/credentials"), connectors()]);
    const names = new Map(credentials.map((credential) => [credential.id, credential.name]));
    const connectorNames = new Map(listed.map((connector) => [connector.id, connector.name]));
    const first = await pagedList(
      rows,
      (cursor) => api("GET", `${info.path}?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`),
      (source) =>
        el(
          "tr",
          {},
          el("td", { class: "name" }, link(source.name, `${info.console}/${source.id}`)),
          el("td", { text: connectorNames.get(source.connector) || source.connector }),
          el("td", { class: "name" }, link(names.get(source.credential_id) || source.credential_id, `/console/credentials/${source.credential_id}`)),
        ),
      { error, below: table },
    );
    if (!first.length) {
      table.replaceWith(
        emptyState(
          `No ${info.one}s yet. A ${info.one} uses a saved credential; its jobs get fresh tokens with a job key.`,
          can("credentials:write") ? newButton(kind) : null,
        ),
      );
    }
  } catch (problem) {
    showError(error, problem);
  }
}

/// New data source or destination. The address keeps each step (`?connector=…&credential=…`),
/// so a reload returns to it.
export async function newDataSource(kind, params) {
  const info = kinds[kind];
  const error = alertBox();
  const step = el("section");
  show(el("p", { class: "crumbs" }, link(info.title, info.console)), el("h1", { text: info.New }), error, step);
  let listed;
  try {
    listed = await connectors();
  } catch (problem) {
    showError(error, problem);
    return;
  }
  const connector = listed.find((each) => each.id === params.get("connector"));
  if (!connector) {
    step.replaceChildren(
      el("h2", { text: "Choose the connector" }),
      el(
        "ul",
        { class: "tiles" },
        ...listed.map((each) =>
          el("li", {}, el("button", { type: "button", class: "tile", text: each.name, onclick: () => navigate(`${info.console}/new?connector=${encodeURIComponent(each.id)}`) })),
        ),
      ),
    );
    return;
  }
  const authenticate = el("section");
  const details = el("section");
  step.replaceChildren(authenticate, details);
  const chosen = (credential) => {
    history.replaceState(null, "", `${info.console}/new?connector=${encodeURIComponent(connector.id)}&credential=${credential.id}`);
    describe(credential);
  };
  await authenticateScreen(connector, authenticate, chosen, params.get("credential"));

  function describe(credential) {
    const nameField = plainField("name", info.name, { required: true });
    const descriptionField = plainField("description", "Description", { long: true });
    const fields = [nameField, descriptionField];
    const problem = alertBox();
    const said = el("p", { class: "outcome", role: "status" });
    const create = el("button", { type: "submit", class: "primary", text: "Create" });
    const form = el(
      "form",
      {
        novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          const request = { name: nameField.input.value.trim(), connector: connector.id, credential_id: credential.id, config: {} };
          if (descriptionField.input.value.trim()) request.description = descriptionField.input.value.trim();
          let created = null;
          await busy(create, said, "Creating…", async () => {
            clearFieldErrors(fields, problem);
            try {
              created = await api("POST", info.path, request);
            } catch (failure) {
              showFieldErrors(fields, problem, failure);
            }
          });
          if (created) navigate(`${info.console}/${created.id}?created=1`);
        },
      },
      el("h2", { text: `Using ${credential.name}` }),
      fieldBlock(nameField),
      fieldBlock(descriptionField),
      problem,
      said,
      el("div", { class: "actions" }, create),
    );
    details.replaceChildren(form);
    nameField.input.focus();
  }
}

/// One data source's or destination's page.
export async function showDataSource(kind, id, params) {
  const info = kinds[kind];
  const error = alertBox();
  show(el("p", { class: "crumbs" }, link(info.title, info.console)), error);
  let source;
  let credentials;
  try {
    source = await api("GET", `${info.path}/${id}`);
    credentials = await everything(`/v1/credentials?connector=${encodeURIComponent(source.connector)}&sort=name`);
  } catch (problem) {
    showError(error, problem);
    return;
  }
  const reload = () => showDataSource(kind, id, new URLSearchParams());
  const writer = can("credentials:write");
  const version = { "If-Match": `"${source.version}"` };
  const credential = credentials.find((each) => each.id === source.credential_id);

  // Settings: name and description.
  const nameField = plainField("name", "Name", { required: true, value: source.name });
  const descriptionField = plainField("description", "Description", { long: true, value: source.description || "" });
  const settingsSaid = el("p", { class: "outcome", role: "status" });
  const settingsError = alertBox();
  const saveSettings = el("button", { type: "submit", class: "primary", text: "Save settings" });
  const settings = el(
    "form",
    {
      novalidate: true,
      "aria-label": "Settings",
      onsubmit: (event) => {
        event.preventDefault();
        busy(saveSettings, settingsSaid, "Saving…", async () => {
          clearFieldErrors([nameField, descriptionField], settingsError);
          try {
            await api("PATCH", `${info.path}/${id}`, { name: nameField.input.value.trim(), description: descriptionField.input.value.trim() }, version);
            await reload();
          } catch (problem) {
            showFieldErrors([nameField, descriptionField], settingsError, problem);
          }
        });
      },
    },
    el("h2", { text: "Settings" }),
    fieldBlock(nameField),
    fieldBlock(descriptionField),
    settingsError,
    settingsSaid,
    writer ? el("div", { class: "actions" }, saveSettings) : null,
  );
  if (!writer) for (const field of [nameField, descriptionField]) field.input.readOnly = true;

  // Its credential, changeable to another of the same connector.
  const choice = el(
    "select",
    { id: uid("credential"), disabled: !writer },
    ...credentials.map((each) => el("option", { value: each.id, text: `${each.name} (${each.status.replace("_", " ")})`, selected: each.id === source.credential_id })),
  );
  const credentialSaid = el("p", { class: "outcome", role: "status" });
  const credentialError = alertBox();
  const change = el("button", { type: "submit", text: "Change credential" });
  const credentialForm = el(
    "form",
    {
      novalidate: true,
      "aria-label": "Credential",
      onsubmit: (event) => {
        event.preventDefault();
        busy(change, credentialSaid, "Changing…", async () => {
          credentialError.textContent = "";
          try {
            const changed = await api("PATCH", `${info.path}/${id}`, { credential_id: choice.value }, version);
            await reload();
            if (changed.warnings && changed.warnings.length) outcome(document.querySelector("form[aria-label='Credential'] .outcome"), false, readable(changed.warnings.join(" ")));
          } catch (problem) {
            showError(credentialError, problem);
          }
        });
      },
    },
    el("h2", { text: "Credential" }),
    el("p", {}, "Uses ", credential ? link(credential.name, `/console/credentials/${credential.id}`) : el("span", { text: source.credential_id }), "; its jobs get this credential's tokens."),
    writer ? el("div", { class: "field" }, label(choice.id, "Use credential"), choice) : null,
    credentialError,
    credentialSaid,
    writer ? el("div", { class: "actions" }, change) : null,
  );

  show(
    el("p", { class: "crumbs" }, link(info.title, info.console)),
    el("h1", { class: "name", text: source.name }),
    params.get("created") ? el("p", { class: "outcome good", role: "status", text: `✓ ${info.one[0].toUpperCase()}${info.one.slice(1)} created. Create a job key for its jobs below.` }) : null,
    error,
    settings,
    credentialForm,
    writer ? await jobKeys(kind, source) : null,
    can("admin") ? el("p", {}, link("Audit events", `/console/audit?target_id=${source.id}`)) : null,
    writer ? deleteZone(kind, source, version) : null,
  );
}

/// The job keys section: each key's name, start, when made, whether revoked; create and revoke.
async function jobKeys(kind, source) {
  const info = kinds[kind];
  const path = `${info.path}/${source.id}/job-keys`;
  const section = el("section", { "aria-label": "Job keys" });
  const error = alertBox();
  const rows = el("tbody");
  const shown = el("div", { class: "shown-key" });
  const said = el("p", { class: "outcome", role: "status" });
  const load = async () => {
    rows.replaceChildren();
    const keys = await everything(path);
    rows.append(
      ...keys.map((key) =>
        el(
          "tr",
          {},
          el("td", { class: "name", text: key.name }),
          el("td", {}, el("code", { text: `${key.prefix}…` })),
          el("td", { text: when(key.created_at) }),
          el("td", { text: key.revoked_at ? `revoked ${when(key.revoked_at)}` : "live" }),
          el(
            "td",
            {},
            key.revoked_at
              ? null
              : el("button", {
                  type: "button",
                  class: "danger",
                  text: "Revoke",
                  "aria-label": `Revoke ${key.name} (${key.prefix}…)`,
                  onclick: async () => {
                    const sure = await confirmAction({ title: `Revoke ${key.name}?`, text: `Jobs using the key ${key.prefix}… are refused from now on. This cannot be undone.`, action: "Revoke" });
                    if (!sure) return;
                    try {
                      await api("DELETE", `${path}/${key.id}`);
                      await load();
                    } catch (problem) {
                      showError(error, problem);
                    }
                  },
                }),
          ),
        ),
      ),
    );
    if (!keys.length) rows.append(el("tr", {}, el("td", { colspan: "5", text: "No job keys yet." })));
  };
  const create = el("button", {
    type: "button",
    class: "primary",
    text: "Create job key",
    onclick: () =>
      busy(create, said, "Creating…", async () => {
        error.textContent = "";
        try {
          const created = await api("POST", path, {});
          shown.replaceChildren(
            el("h3", { text: "The new job key, shown once" }),
            el("p", {
              text: `Jobs of ${source.name} send it as "Authorization: Bearer <key>" to POST ${info.path}/${source.id}/token for a fresh access token. Store it now in your job runner's secrets: Latch keeps only a digest and cannot show it again.`,
            }),
            copyable(created.key, "Job key"),
          );
          await load();
        } catch (problem) {
          showError(error, problem);
        }
      }),
  });
  section.append(
    el("h2", { text: "Job keys" }),
    el("p", { class: "help", text: `A job key lets a job ask for ${source.name}'s tokens, and nothing else.` }),
    can("admin") ? el("div", { class: "actions" }, create) : el("p", { class: "help", text: "An admin creates job keys." }),
    said,
    shown,
    error,
    el("div", { class: "scroll" }, el("table", {}, el("thead", {}, el("tr", {}, ...["Name", "Starts with", "Created", "State", ""].map((text) => el("th", { text })))), rows)),
  );
  try {
    await load();
  } catch (problem) {
    showError(error, problem);
  }
  return section;
}

function deleteZone(kind, source, version) {
  const info = kinds[kind];
  const error = alertBox();
  return el(
    "section",
    { class: "danger-zone", "aria-label": "Delete" },
    el("h2", { text: "Delete" }),
    el("p", { class: "help", text: `Deleting the ${info.one} revokes its job keys at once. Its credential stays.` }),
    error,
    el("button", {
      type: "button",
      class: "danger",
      text: `Delete ${info.one}`,
      onclick: async () => {
        const sure = await confirmAction({ title: `Delete ${source.name}?`, text: `The ${info.one} ${source.name} is deleted and its job keys are revoked. This cannot be undone.`, action: "Delete" });
        if (!sure) return;
        try {
          await api("DELETE", `${info.path}/${source.id}`, undefined, version);
          navigate(info.console);
        } catch (problem) {
          showError(error, problem);
        }
      },
    }),
  );
}
