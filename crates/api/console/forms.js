// Forms drawn from a connector's JSON Schemas: the Add Credential overlay, Register OAuth
// app, and the fields they share.

import {
  el, api, uid, can, alertBox, showFieldErrors, clearFieldErrors, statusText, busy, outcome,
  copyable, label, modal, readable,
} from "./{{ui.js}}";
import { consent } from "./{{consent.js}}";

/// The fields of a schema section, in the order the connector asks them (`x-order`).
export function schemaFields(schema, section, secret) {
  const required = schema.required || [];
  const properties = schema.properties || {};
  const order = schema["x-order"] || Object.keys(properties);
  return order.filter((name) => properties[name]).map((name) => {
    const property = properties[name];
    const id = uid(`${section}-${name}`);
    const described = `${id}-help ${id}-error`;
    const must = required.includes(name);
    // A field with choices is a list to pick from, its default picked; a long secret (a
    // private key in PEM) keeps its lines in a text area.
    const long = (secret || property.writeOnly) && property.maxLength > 1024;
    const input = long
      ? el("textarea", {
          id, name, rows: 6, spellcheck: false, autocomplete: "off", required: must,
          maxlength: property.maxLength, "aria-describedby": described,
        })
      : property.enum
      ? el(
          "select",
          { id, name, required: must, "aria-describedby": described },
          ...property.enum.map((choice) => el("option", { value: choice, text: choice, selected: choice === property.default })),
        )
      : el("input", {
          id,
          name,
          type: secret || property.writeOnly ? "password" : String(property.pattern || "").includes("https://") ? "url" : "text",
          autocomplete: secret || property.writeOnly ? "new-password" : "off",
          required: must,
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
      required: must,
      error: el("p", { class: "field-error", id: `${id}-error` }),
      node: null,
      label: property.title || name,
      help: property.description,
    };
  });
}

/// A plain field (name, description) in the shape `schemaFields` makes.
export function plainField(path, text, { required = false, long = false, value = "" } = {}) {
  const id = uid(path);
  const input = long
    ? el("textarea", { id, maxlength: 1000, rows: 2, "aria-describedby": `${id}-error` })
    : el("input", { id, required, maxlength: 128, autocomplete: "off", "aria-describedby": `${id}-error` });
  input.value = value;
  return { path, input, label: text, required, error: el("p", { class: "field-error", id: `${id}-error` }) };
}

export function fieldBlock(field) {
  field.node = el(
    "div",
    { class: "field" },
    label(field.input.id, field.label, field.required),
    field.input,
    field.help ? el("p", { class: "help", id: `${field.input.id}-help`, text: field.help }) : null,
    field.error,
  );
  return field.node;
}

/// A form in a dialog. Its one submit button is what Enter presses (implicit submission,
/// which a disabled button blocks); the caller listens for "submit". The server checks the
/// fields and says what is wrong beside each, so the browser's own checks are off.
function dialogForm(title, children) {
  return el("form", { novalidate: true, onsubmit: (event) => event.preventDefault() }, el("h2", { text: title }), ...children);
}

/// A small overlay with labelled fields; `submit` gets called on Save (or Enter), and the
/// overlay closes when it succeeds, then `after` runs.
export function overlay(title, fields, submitText, submit, after) {
  const error = alertBox();
  const said = el("p", { class: "outcome", role: "status" });
  const save = el("button", { type: "submit", class: "primary", text: submitText });
  const cancel = el("button", { type: "button", text: "Cancel", onclick: () => close() });
  const form = dialogForm(title, [...fields.map(fieldBlock), error, said, el("div", { class: "actions" }, save, cancel)]);
  form.addEventListener("submit", () =>
    busy([save, cancel], said, "Saving…", async () => {
      clearFieldErrors(fields, error);
      try {
        await submit();
        close();
        if (after) await after();
      } catch (problem) {
        showFieldErrors(fields, error, problem);
      }
    }),
  );
  const dialog = modal(title, form);
  const close = () => {
    for (const field of fields) field.input.value = "";
    dialog.close();
  };
  fields[0].input.focus();
}

/// The body of a request from fields: sections (`config`, `secrets`) and plain fields.
function collect(fields, request) {
  for (const field of fields) {
    const value = field.input.value.trim();
    if (!value) continue;
    if (field.section) request[field.section][field.name] = value;
    else request[field.path] = value;
  }
  return request;
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
    fields: [...schemaFields(method.config_schema, "config", false), ...schemaFields(method.secrets_schema, "secrets", true)],
  }));
}

export function appLabel(app) {
  const config = app.config || {};
  return [app.name, config.client_id && `client ${config.client_id}`, config.ui_host_url].filter(Boolean).join(" · ");
}

/// Where the connector's own documentation says how to get what the form asks. Declared
/// providers are refused without an https `docs_url`; the page still links nothing else.
function docsLink(connector) {
  return connector.docs_url && connector.docs_url.startsWith("https://")
    ? el("p", { class: "help" }, el("a", { href: connector.docs_url, target: "_blank", rel: "noopener noreferrer", text: `Where to find these in ${connector.name}'s documentation` }))
    : null;
}

/// The Add Credential overlay: name, description, how Latch signs in, then that way's
/// fields. `onsaved` gets the new credential.
export function addCredential(connector, onsaved) {
  const nameField = plainField("name", "Credential Name", { required: true });
  const descriptionField = plainField("description", "Credential Description", { long: true });
  const forms = typedForms(connector);
  for (const form of forms) form.blocks = form.fields.map(fieldBlock);
  // The method chosen, whose fields the request sends; none while consent is chosen.
  let typed = forms[0] || null;
  let fields = [nameField, descriptionField, ...(typed ? typed.fields : [])];
  const said = el("div", { class: "outcome", role: "status" });
  const error = alertBox();
  const oauth = (connector.auth_methods || []).find((method) => method.id === "oauth_authorization_code");
  // Consent goes through one of the organization's OAuth apps: what the app says (hosts,
  // client ID, redirect URI) an admin registered; a person only picks it.
  const appSelect = el("select", { id: uid("oauth-app"), required: true });
  const appField = {
    path: "oauth_app_id",
    input: appSelect,
    label: "OAuth app",
    required: true,
    help: `The organization's OAuth client app in ${connector.name} that asks for the consent.`,
    error: el("p", { class: "field-error" }),
  };
  const redirect = el("div", {});
  let apps = [];
  appSelect.addEventListener("change", () => showRedirect());
  const showRedirect = () => {
    const app = apps.find((candidate) => candidate.id === appSelect.value);
    redirect.replaceChildren(
      ...(app
        ? [el("p", { class: "help", text: `Registered in ${connector.name} as this app's redirect URI:` }), copyable(app.redirect_uri, "Redirect URI")]
        : []),
    );
  };
  const appPlace = el("div", {});
  const testButton = el("button", { type: "button", text: "Test", onclick: () => test() });
  const saveButton = el("button", { type: "submit", class: "primary", text: "Save" });
  const cancelButton = el("button", { type: "button", text: "Cancel", onclick: () => close() });
  const keyActions = el("div", { class: "actions" }, saveButton, testButton, cancelButton);
  const connectButton = el("button", { type: "submit", class: "primary", text: `Connect with ${connector.name}` });
  const oauthActions = el("div", { class: "actions" }, connectButton, el("button", { type: "button", text: "Cancel", onclick: () => close() }));
  const registerButton = (text, after) =>
    can("admin") ? el("button", { type: "button", text, onclick: () => registerOAuthApp(connector, (app) => after(app)) }) : null;
  async function loadApps(chosen) {
    connectButton.disabled = true;
    try {
      apps = (await api("GET", `/v1/oauth-apps?connector=${encodeURIComponent(connector.id)}&limit=200`)).items;
    } catch (problem) {
      showFieldErrors([], error, problem);
      return;
    }
    if (!apps.length) {
      appPlace.replaceChildren(
        ...[
          el("p", {
            text: `No OAuth app for ${connector.name} is registered in your organization yet. ` + (can("admin") ? "Register one first." : "An admin registers one first."),
          }),
          registerButton("Register an OAuth app", (app) => loadApps(app.id)),
        ].filter(Boolean),
      );
      return;
    }
    appSelect.replaceChildren(...apps.map((app) => el("option", { value: app.id, text: appLabel(app), selected: app.id === chosen })));
    appPlace.replaceChildren(...[fieldBlock(appField), redirect, registerButton("Register another OAuth app", (app) => loadApps(app.id))].filter(Boolean));
    showRedirect();
    connectButton.disabled = false;
  }
  const methodFields = el("div", {}, ...(typed ? typed.blocks : []), said, error, typed ? keyActions : null);
  const choose = (form) => {
    clearFieldErrors(fields, error);
    typed = form;
    fields = [nameField, descriptionField, ...(form ? form.fields : [])];
    if (!form) {
      methodFields.replaceChildren(appPlace, said, error, oauthActions);
      loadApps(appSelect.value);
    } else methodFields.replaceChildren(...form.blocks, said, error, keyActions);
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
  const methods = choices.length > 1 ? el("fieldset", {}, el("legend", { text: "How Latch signs in" }), ...choices) : null;
  const title = `Add Credential: ${connector.name}`;
  const form = dialogForm(
    title,
    [el("p", { class: "help", text: "Fields marked * are required. Secrets are sealed when saved and never shown again." }), docsLink(connector), fieldBlock(nameField), fieldBlock(descriptionField), methods, methodFields].filter(Boolean),
  );
  const dialog = modal(title, form);
  const controls = () => [...dialog.querySelectorAll("button")];
  async function connect() {
    clearFieldErrors([...fields, appField], error);
    const request = { oauth_app_id: appSelect.value };
    if (nameField.input.value.trim()) request.name = nameField.input.value.trim();
    if (descriptionField.input.value.trim()) request.description = descriptionField.input.value.trim();
    connectButton.disabled = true;
    try {
      const ended = await consent("/v1/connect-sessions", request, said, connector.name);
      if (ended.status !== "completed") {
        outcome(said, false, `Not connected: ${readable(ended.error || ended.status)}.`);
        return;
      }
      const created = await api("GET", `/v1/credentials/${ended.credential_id}`);
      close();
      await onsaved(created);
    } catch (problem) {
      said.textContent = "";
      showFieldErrors([...fields, appField], error, problem);
    } finally {
      connectButton.disabled = false;
    }
  }
  const body = () => {
    const request = { connector: connector.id, config: {}, secrets: {} };
    if (typed) request.auth_method = typed.id;
    return collect(fields, request);
  };
  const forgetSecrets = () => {
    for (const each of forms) for (const field of each.fields) if (field.section === "secrets") field.input.value = "";
  };
  const close = () => {
    forgetSecrets();
    dialog.close();
  };
  async function test() {
    const request = body();
    delete request.name;
    delete request.description;
    await busy(controls(), said, `Testing the login at ${connector.name}…`, async () => {
      clearFieldErrors(fields, error);
      try {
        const result = await api("POST", "/v1/credentials/test", request);
        said.dataset.result = result.status;
        outcome(said, result.status === "valid", `${statusText[result.status] || result.status}: ${readable(result.detail)}`);
      } catch (problem) {
        showFieldErrors(fields, error, problem);
      }
    });
  }
  async function save() {
    let created = null;
    await busy(controls(), said, `Saving: Latch tests the login at ${connector.name} first…`, async () => {
      clearFieldErrors(fields, error);
      try {
        created = await api("POST", "/v1/credentials", body());
      } catch (problem) {
        showFieldErrors(fields, error, problem);
      }
    });
    if (created) {
      close();
      await onsaved(created);
    }
  }
  form.addEventListener("submit", () => (typed ? save() : connect()));
  dialog.addEventListener("close", forgetSecrets);
  // A connector that makes credentials by consent only opens on its OAuth apps.
  if (!typed && oauth) choose(null);
  nameField.input.focus();
}

/// The Register OAuth app overlay: the app's name and settings, then its redirect URI, which
/// the upstream's admin registers for the app's client ID. `onregistered` gets the app once
/// the person is done.
export function registerOAuthApp(connector, onregistered) {
  const method = (connector.auth_methods || []).find((candidate) => candidate.id === "oauth_authorization_code");
  const nameField = plainField("name", "App Name", { required: true });
  const descriptionField = plainField("description", "App Description", { long: true });
  const fields = [
    nameField,
    descriptionField,
    ...schemaFields(method.config_schema, "config", false),
    ...schemaFields(method.secrets_schema, "secrets", true),
  ];
  const error = alertBox();
  const said = el("p", { class: "outcome", role: "status" });
  const registerButton = el("button", { type: "submit", class: "primary", text: "Register" });
  const cancel = el("button", { type: "button", text: "Cancel", onclick: () => close() });
  const title = `Register an OAuth app: ${connector.name}`;
  const form = dialogForm(title, [docsLink(connector), ...fields.map(fieldBlock), error, said, el("div", { class: "actions" }, registerButton, cancel)].filter(Boolean));
  const dialog = modal(title, form);
  const close = () => {
    for (const field of fields) if (field.section === "secrets") field.input.value = "";
    dialog.close();
  };
  form.addEventListener("submit", async () => {
    const request = collect(fields, { connector: connector.id, config: {}, secrets: {} });
    if (!Object.keys(request.secrets).length) delete request.secrets;
    let app = null;
    await busy([registerButton, cancel], said, "Registering…", async () => {
      clearFieldErrors(fields, error);
      try {
        app = await api("POST", "/v1/oauth-apps", request);
      } catch (problem) {
        showFieldErrors(fields, error, problem);
      }
    });
    if (!app) return;
    close();
    const done = modal(
      `${app.name} is registered`,
      el("h2", { text: `${app.name} is registered` }),
      el("p", {
        text:
          `Give this redirect URI to your ${connector.name} admin, who registers it for the client ID ` +
          `${(app.config && app.config.client_id) || ""}. Consent through the app works once it is registered there.`,
      }),
      copyable(app.redirect_uri, "Redirect URI"),
      el("div", { class: "actions" }, el("button", { type: "button", class: "primary", text: "Done", onclick: () => { done.close(); onregistered(app); } })),
    );
  });
  nameField.input.focus();
}
