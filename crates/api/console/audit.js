// The audit trail for people: what happened in words, to which record (by name, linked),
// by which key, with its detail; filtered by what happened and by record, page after page.

import { el, api, everything, show, alertBox, showError, when, link, navigate, pagedList, emptyState, label, uid, readable } from "./{{ui.js}}";

/// Each action the server records, as people say it (the API's codes are in
/// `AuditAction`); an unknown one reads as its code.
const ACTIONS = {
  "credential.created": "Credential created",
  "credential.updated": "Credential changed",
  "credential.deleted": "Credential deleted",
  "credential.validated": "Credential tested again",
  "credential.tested": "Settings tested (not saved)",
  "credential.invalidated": "Credential refused by its upstream",
  "egress.blocked": "Call to a refused address blocked",
  "api_key.created": "API key created",
  "api_key.revoked": "API key revoked",
  "data_source.created": "Data source created",
  "data_source.updated": "Data source changed",
  "data_source.deleted": "Data source deleted",
  "data_destination.created": "Data destination created",
  "data_destination.updated": "Data destination changed",
  "data_destination.deleted": "Data destination deleted",
  "token.issued": "Token handed to a job",
  "token.issuance_dropped": "Token records dropped under load",
  "authentication.failed": "Sign-in refused",
  "authorization.denied": "Action refused to a key",
  "audit.refusals_dropped": "Refusal records dropped under load",
  "connect_session.created": "Consent started",
  "connect_session.failed": "Consent failed",
  "oauth_app.created": "OAuth app registered",
  "oauth_app.updated": "OAuth app changed",
  "oauth_app.deleted": "OAuth app deleted",
  "webhook.created": "Webhook added",
  "webhook.updated": "Webhook changed",
  "webhook.deleted": "Webhook deleted",
  "webhook.secret_rotated": "Webhook secret rotated",
  "webhook.tested": "Webhook test sent",
  "webhook.delivery_retried": "Webhook delivery retried",
  "webhook.disabled": "Webhook turned off after failing",
};

const TARGETS = {
  credential: ["Credential", (id) => `/console/credentials/${id}`],
  data_source: ["Data source", (id) => `/console/data-sources/${id}`],
  data_destination: ["Data destination", (id) => `/console/data-destinations/${id}`],
  oauth_app: ["OAuth app", () => "/console/oauth-apps"],
  webhook: ["Webhook", () => "/console/webhooks"],
  api_key: ["API key", null],
  connect_session: ["Consent session", null],
};

/// The names of the organization's records by id, for the rows to say which one.
async function names() {
  const known = new Map();
  const lists = [
    ["/v1/credentials", (item) => item.name],
    ["/v1/data-sources", (item) => item.name],
    ["/v1/data-destinations", (item) => item.name],
    ["/v1/oauth-apps", (item) => item.name],
    ["/v1/webhooks", (item) => item.url],
    ["/v1/api-keys", (item) => `${item.name} (${item.prefix}…)`],
  ];
  const found = await Promise.all(lists.map(([path]) => everything(path).catch(() => [])));
  found.forEach((items, index) => {
    for (const item of items) {
      known.set(item.id, lists[index][1](item));
      if (item.prefix) known.set(item.prefix, lists[index][1](item));
    }
  });
  return known;
}

/// An event's detail as "name: value" pairs.
function details(detail) {
  if (!detail || typeof detail !== "object") return "";
  return Object.entries(detail)
    .map(([name, value]) => `${name.replace(/_/g, " ")}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join("; ");
}

export async function showAudit(params) {
  const error = alertBox();
  const rows = el("tbody");
  const action = el(
    "select",
    { id: uid("audit-action") },
    el("option", { value: "", text: "Anything" }),
    ...Object.entries(ACTIONS).map(([code, text]) => el("option", { value: code, text, selected: code === params.get("action") })),
  );
  const target = params.get("target_id");
  const apply = () => {
    const query = new URLSearchParams();
    if (action.value) query.set("action", action.value);
    if (target) query.set("target_id", target);
    navigate(`/console/audit${query.toString() ? `?${query}` : ""}`, { replace: true });
  };
  action.addEventListener("change", apply);
  const known = await names();
  const targetName = (type, id) => known.get(id) || (id ? `${id.slice(0, 8)}… (gone)` : "");
  const table = el(
    "div",
    { class: "scroll" },
    el("table", {}, el("thead", {}, el("tr", {}, ...["When", "What happened", "Record", "Who", "Outcome", "Detail"].map((text) => el("th", { text })))), rows),
  );
  show(
    el("h1", { text: "Audit" }),
    el(
      "form",
      { class: "filters", onsubmit: (event) => { event.preventDefault(); apply(); } },
      el("div", { class: "field" }, label(action.id, "What happened"), action),
      target
        ? el(
            "p",
            { class: "chip" },
            `About ${targetName(null, target)} `,
            el("button", { type: "button", text: "Any record", onclick: () => navigate(`/console/audit${action.value ? `?action=${action.value}` : ""}`, { replace: true }) }),
          )
        : null,
    ),
    error,
    table,
  );
  const query = new URLSearchParams({ order: "newest", limit: "50" });
  if (params.get("action")) query.set("action", params.get("action"));
  if (target) query.set("target_id", target);
  const render = (event) => {
    const [kind, path] = TARGETS[event.target_type] || [event.target_type, null];
    const name = targetName(event.target_type, event.target_id);
    const record = el("td", { class: "name" }, `${kind} `);
    if (event.target_id) {
      record.append(path ? link(name, path(event.target_id)) : el("span", { text: name }), " ");
      if (event.target_id !== target) {
        record.append(link("(its events)", `/console/audit?target_id=${encodeURIComponent(event.target_id)}`, { class: "small" }));
      }
    }
    return el(
      "tr",
      {},
      el("td", { text: when(event.at) }),
      el("td", { text: ACTIONS[event.action] || event.action, title: event.action }),
      record,
      el("td", { class: "name", text: event.actor_key_id ? known.get(event.actor_key_id) || `key ${event.actor_key_id.slice(0, 8)}…` : "Latch" }),
      el("td", { text: event.outcome === "success" ? "done" : "refused or failed" }),
      el("td", { class: "detail", text: readable(details(event.detail)) }),
    );
  };
  try {
    const first = await pagedList(rows, (cursor) => api("GET", `/v1/audit-events?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`), render, { error, below: table });
    if (!first.length) {
      rows.append(el("tr", {}, el("td", { colspan: "6" }, emptyState("Nothing recorded matches.", el("button", { type: "button", text: "Show everything", onclick: () => navigate("/console/audit", { replace: true }) })))));
    }
  } catch (problem) {
    showError(error, problem);
  }
}
