// The Webhooks screen (admins): endpoints with their state, adding one (its signing secret is
// shown once), a test event, the deliveries with each attempt and a retry, a new secret, and
// turning an endpoint off and on. `ui` holds the console's shared helpers.

const EVENT_TYPES = [
  "credential.created",
  "credential.deleted",
  "credential.degraded",
  "credential.invalid",
  "credential.reauthorization_required",
  "credential.recovered",
  "connect_session.completed",
  "connect_session.failed",
  "webhook.disabled",
];

function stateOf(webhook, ui) {
  if (!webhook.enabled) return webhook.disabled_reason ? `off: ${webhook.disabled_reason}` : "off";
  if (webhook.failing_since) return `failing since ${ui.when(webhook.failing_since)}`;
  return "on";
}

/// A dialog showing a secret once, with what it is for.
function showSecret(ui, title, secret, onclose) {
  const { el } = ui;
  const dialog = el(
    "dialog",
    { "aria-label": title },
    el("h2", { text: title }),
    el("p", {
      text:
        "Keep this signing secret now: it is not shown again. Your receiver verifies each " +
        "event's webhook-signature header with it (any Standard Webhooks library does).",
    }),
    ui.copyable(secret, "Signing secret"),
    el(
      "div",
      { class: "actions" },
      el("button", {
        type: "button",
        class: "primary",
        text: "Done",
        onclick: () => {
          dialog.close();
          dialog.remove();
          onclose();
        },
      }),
    ),
  );
  document.body.append(dialog);
  dialog.showModal();
}

function addWebhook(ui, onadded) {
  const { el, api, uid } = ui;
  const url = el("input", { id: uid("webhook-url"), type: "url", required: true, placeholder: "https://hooks.example.com/latch" });
  const description = el("input", { id: uid("webhook-description") });
  const urlError = el("p", { class: "field-error" });
  const boxes = EVENT_TYPES.map((type) => el("input", { type: "checkbox", id: uid("event"), value: type }));
  const error = ui.alertBox();
  const dialog = el(
    "dialog",
    { "aria-label": "Add webhook" },
    el(
      "form",
      { method: "dialog", onsubmit: (event) => event.preventDefault() },
      el("h2", { text: "Add webhook" }),
      el("div", { class: "field" }, el("label", { for: url.id, text: "URL" }), url, urlError),
      el("div", { class: "field" }, el("label", { for: description.id, text: "Description" }), description),
      el(
        "fieldset",
        {},
        el("legend", { text: "Events (none checked: every event)" }),
        ...boxes.map((box) => el("div", {}, box, el("label", { class: "inline", for: box.id, text: box.value }))),
      ),
      error,
      el(
        "div",
        { class: "actions" },
        el("button", {
          type: "button",
          class: "primary",
          text: "Add",
          onclick: async () => {
            error.textContent = "";
            urlError.textContent = "";
            const events = boxes.filter((box) => box.checked).map((box) => box.value);
            const body = { url: url.value.trim(), events: events.length ? events : null };
            if (description.value.trim()) body.description = description.value.trim();
            try {
              const created = await api("POST", "/v1/webhooks", body);
              dialog.close();
              dialog.remove();
              showSecret(ui, `Signing secret of ${created.webhook.url}`, created.secret, onadded);
            } catch (problem) {
              const listed = (problem.body && problem.body.errors) || [];
              const onUrl = listed.find((item) => item.field === "url");
              if (onUrl) urlError.textContent = onUrl.message;
              ui.showError(error, problem);
            }
          },
        }),
        el("button", { type: "button", text: "Cancel", onclick: () => { dialog.close(); dialog.remove(); } }),
      ),
    ),
  );
  document.body.append(dialog);
  dialog.showModal();
  url.focus();
}

async function showDeliveries(ui, webhook) {
  const { el, api } = ui;
  const error = ui.alertBox();
  const rows = el("tbody");
  const path = `/v1/webhooks/${webhook.id}/deliveries`;
  const load = async () => {
    try {
      const page = await api("GET", `${path}?limit=50`);
      rows.replaceChildren(
        ...page.items.map((delivery) => {
          const last = delivery.attempts[delivery.attempts.length - 1];
          const answer = last ? (last.status_code ? `${last.status_code}` : last.error) : "not tried yet";
          return el(
            "tr",
            {},
            el("td", { text: ui.when(delivery.created_at) }),
            el("td", { text: delivery.event_type }),
            el("td", { text: delivery.state }),
            el("td", { text: `${delivery.attempts.length}` }),
            el("td", { text: last ? `${answer} in ${last.latency_ms} ms` : answer }),
            el("td", { text: delivery.next_attempt_at ? ui.when(delivery.next_attempt_at) : "" }),
            el(
              "td",
              {},
              el("button", {
                type: "button",
                text: "Retry",
                "aria-label": `Retry ${delivery.event_type} of ${ui.when(delivery.created_at)}`,
                onclick: async () => {
                  try {
                    await api("POST", `${path}/${delivery.id}/retry`);
                    await load();
                  } catch (problem) {
                    ui.showError(error, problem);
                  }
                },
              }),
            ),
          );
        }),
      );
      if (!page.items.length) rows.replaceChildren(el("tr", {}, el("td", { colspan: "7", text: "No deliveries yet: send a test event." })));
    } catch (problem) {
      ui.showError(error, problem);
    }
  };
  const dialog = el(
    "dialog",
    { "aria-label": `Deliveries to ${webhook.url}`, class: "wide" },
    el("h2", { text: `Deliveries to ${webhook.url}` }),
    error,
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ...["Made", "Event", "State", "Attempts", "Last answer", "Next try", ""].map((text) => el("th", { text })))),
      rows,
    ),
    el(
      "div",
      { class: "actions" },
      el("button", { type: "button", text: "Refresh", onclick: () => load() }),
      el("button", { type: "button", text: "Close", onclick: () => { dialog.close(); dialog.remove(); } }),
    ),
  );
  document.body.append(dialog);
  dialog.showModal();
  await load();
}

function webhookActions(ui, webhook, error, reload) {
  const { el, api } = ui;
  const act = (text, run) =>
    el("button", {
      type: "button",
      text,
      "aria-label": `${text}: ${webhook.url}`,
      onclick: async (event) => {
        error.textContent = "";
        event.target.disabled = true;
        try {
          await run();
        } catch (problem) {
          ui.showError(error, problem);
        } finally {
          event.target.disabled = false;
        }
      },
    });
  const remove = el("button", {
    type: "button",
    text: "Delete",
    "aria-label": `Delete: ${webhook.url}`,
    onclick: () => {
      remove.replaceWith(
        el(
          "span",
          { class: "confirm" },
          `Delete ${webhook.url} and its deliveries? `,
          act("Yes, delete", async () => {
            await api("DELETE", `/v1/webhooks/${webhook.id}`);
            await reload();
          }),
          el("button", { type: "button", text: "Keep it", onclick: () => reload() }),
        ),
      );
    },
  });
  return el(
    "div",
    { class: "actions" },
    act("Send test event", async () => {
      await api("POST", `/v1/webhooks/${webhook.id}/test`);
      await showDeliveries(ui, webhook);
    }),
    act("Deliveries", () => showDeliveries(ui, webhook)),
    act("Rotate secret", async () => {
      const rotated = await api("POST", `/v1/webhooks/${webhook.id}/rotate-secret`);
      showSecret(ui, `New signing secret of ${webhook.url}`, rotated.secret, reload);
    }),
    act(webhook.enabled ? "Turn off" : "Turn on", async () => {
      await api("PATCH", `/v1/webhooks/${webhook.id}`, { enabled: !webhook.enabled });
      await reload();
    }),
    remove,
  );
}

export async function showWebhooks(ui) {
  const { el, api, main } = ui;
  const error = ui.alertBox();
  const rows = el("tbody");
  const reload = () => showWebhooks(ui);
  main.replaceChildren(
    el("h1", { text: "Webhooks" }),
    el("p", {
      text:
        "Latch tells these endpoints when a credential is made, deleted, breaks or mends, and " +
        "when a consent ends: signed events, sent at least once, retried for up to 3 days.",
    }),
    el("button", { type: "button", class: "primary", text: "Add webhook", onclick: () => addWebhook(ui, reload) }),
    error,
    el(
      "div",
      { class: "scroll" },
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, ...["URL", "Events", "State", ""].map((text) => el("th", { text })))),
        rows,
      ),
    ),
  );
  try {
    const page = await api("GET", "/v1/webhooks?limit=200");
    rows.replaceChildren(
      ...page.items.map((webhook) =>
        el(
          "tr",
          {},
          el("td", {}, el("span", { class: "url", text: webhook.url }), webhook.description ? el("p", { class: "help", text: webhook.description }) : null),
          el("td", { text: webhook.events ? webhook.events.join(", ") : "every event" }),
          el("td", { text: stateOf(webhook, ui) }),
          el("td", {}, webhookActions(ui, webhook, error, reload)),
        ),
      ),
    );
    if (!page.items.length) {
      rows.replaceChildren(
        el(
          "tr",
          {},
          el(
            "td",
            { colspan: "4" },
            ui.emptyState(
              "No webhooks yet: add one to hear when a credential breaks.",
              el("button", { type: "button", text: "Add a webhook", onclick: () => addWebhook(ui, reload) }),
            ),
          ),
        ),
      );
    }
  } catch (problem) {
    ui.showError(error, problem);
  }
}
