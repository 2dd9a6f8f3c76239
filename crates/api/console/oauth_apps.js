// OAuth apps: the organization's client apps at upstreams, their redirect URIs, register and
// delete (after asking).

import { el, api, everything, can, show, alertBox, showError, confirmAction, emptyState, copyable } from "./{{ui.js}}";
import { registerOAuthApp } from "./{{forms.js}}";
import { connectors } from "./{{credentials.js}}";

export async function showOAuthApps() {
  const error = alertBox();
  const rows = el("tbody");
  const place = el("div", {});
  let offered = [];
  const register = el("button", { type: "button", class: "primary", text: "Register OAuth app", onclick: () => chooseConnector() });
  const table = el(
    "div",
    { class: "scroll" },
    el("table", {}, el("thead", {}, el("tr", {}, ...["Name", "Connector", "Client ID", "Redirect URI", ""].map((text) => el("th", { text })))), rows),
  );
  show(
    el("h1", { text: "OAuth apps" }),
    el("p", {
      text:
        "An OAuth app is your organization's client app at an upstream such as Looker. Consent " +
        "through it can only come back to this organization, at the app's redirect URI.",
    }),
    can("admin") ? register : null,
    place,
    error,
    table,
  );
  try {
    const [apps, listed] = await Promise.all([everything("/v1/oauth-apps"), connectors()]);
    offered = listed.filter((connector) => (connector.auth_methods || []).some((method) => method.id === "oauth_authorization_code"));
    const names = new Map(listed.map((connector) => [connector.id, connector.name]));
    rows.replaceChildren(
      ...apps.map((app) =>
        el(
          "tr",
          {},
          el("td", { class: "name", text: app.name }),
          el("td", { text: names.get(app.connector) || app.connector }),
          el("td", { class: "name", text: (app.config && app.config.client_id) || "" }),
          el("td", {}, copyable(app.redirect_uri, `Redirect URI of ${app.name}`)),
          el(
            "td",
            {},
            can("admin")
              ? el("button", {
                  type: "button",
                  class: "danger",
                  text: "Delete",
                  "aria-label": `Delete ${app.name}`,
                  onclick: async () => {
                    const sure = await confirmAction({
                      title: `Delete ${app.name}?`,
                      text: `The OAuth app ${app.name} and its sealed client secret are deleted, with consents still waiting on it. An app credentials were made through is kept until they are deleted or reconnected through another app. This cannot be undone.`,
                      action: "Delete",
                    });
                    if (!sure) return;
                    try {
                      await api("DELETE", `/v1/oauth-apps/${app.id}`);
                      await showOAuthApps();
                    } catch (problem) {
                      showError(error, problem);
                    }
                  },
                })
              : null,
          ),
        ),
      ),
    );
    if (!apps.length) {
      table.replaceWith(
        emptyState(
          "No OAuth apps yet. Register one to let people connect credentials by consent.",
          can("admin") ? el("button", { type: "button", text: "Register OAuth app", onclick: () => chooseConnector() }) : null,
        ),
      );
    }
  } catch (problem) {
    showError(error, problem);
  }
  function chooseConnector() {
    if (offered.length === 1) {
      registerOAuthApp(offered[0], () => showOAuthApps());
      return;
    }
    place.replaceChildren(
      el("h2", { text: "Which connector?" }),
      el(
        "ul",
        { class: "tiles" },
        ...offered.map((connector) =>
          el("li", {}, el("button", { type: "button", class: "tile", text: connector.name, onclick: () => registerOAuthApp(connector, () => showOAuthApps()) })),
        ),
      ),
    );
    place.querySelector("button").focus();
  }
}
