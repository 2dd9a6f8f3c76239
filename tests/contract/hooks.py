"""The contract run's world answers https on ports 443 and 19999 of every host name (a TLS
front before mock-looker, which hands every path Looker lacks to an authorization server
that grants any client). A generated URL naming another port would only meet the server's
egress rules, which call the ports the connector declares: that refusal is the network's
answer, tested end to end, not the document's. So each URL a request's `config` holds is
sent on the default https port, with its generated host and path kept."""

import re

import schemathesis

PORT = re.compile(r"^(\s*https://[^/:?#\s]+):[0-9]+")


@schemathesis.hook("before_call")
def default_https_port(context, case, kwargs):
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
        return
    for name, value in body["config"].items():
        if isinstance(value, str):
            body["config"][name] = PORT.sub(r"\1", value, count=1)


# A change of an app's settings that decide where its client secret goes must bring the
# secret again (`x-binds-secret`), as a change of a credential's does (`update_credential`'s
# parameters always send one). Every setting of a declared provider's app binds the secret;
# Looker's apps have none.
DECLARED_APP_SETTING = "token_url"


@schemathesis.hook("before_call")
def resend_app_secret(context, case, kwargs):
    body = case.body
    if (
        case.method.upper() == "PATCH"
        and case.path == "/v1/oauth-apps/{id}"
        and isinstance(body, dict)
        and isinstance(body.get("config"), dict)
        and DECLARED_APP_SETTING in body["config"]
        and not isinstance(body.get("secrets"), dict)
    ):
        body["secrets"] = {"client_secret": "contract-client-secret"}
