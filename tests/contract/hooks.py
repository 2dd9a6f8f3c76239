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


# A change of the settings that decide where a secret goes must bring the secret again
# (`x-binds-secret`). Every setting of a declared provider's app binds its client secret;
# Looker's apps (whose settings name `api_host_url`) have none. A credential's change brings
# its client secret, or a service account's key (its settings name an `issuer`).
LOOKER_APP_SETTING = "api_host_url"


@schemathesis.hook("before_call")
def resend_app_secret(context, case, kwargs):
    body = case.body
    if (
        case.method.upper() == "PATCH"
        and case.path == "/v1/oauth-apps/{id}"
        and isinstance(body, dict)
        and isinstance(body.get("config"), dict)
        and LOOKER_APP_SETTING not in body["config"]
        and not isinstance(body.get("secrets"), dict)
    ):
        body["secrets"] = {"client_secret": "contract-client-secret"}


# A service account's private key is checked when it is saved: it must be an RSA key that can
# sign, which no generator writes. Bodies that send one send the test crate's key (the run's
# authorization server takes any assertion).
with open("tests/fixtures/jwt-test-key.pem", encoding="utf-8") as key_file:
    SERVICE_ACCOUNT_KEY = key_file.read()


@schemathesis.hook("before_call")
def a_key_that_signs(context, case, kwargs):
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("secrets"), dict):
        if "private_key" in body["secrets"]:
            body["secrets"]["private_key"] = SERVICE_ACCOUNT_KEY


@schemathesis.hook("before_call")
def resend_credential_secret(context, case, kwargs):
    body = case.body
    if (
        case.method.upper() == "PATCH"
        and case.path == "/v1/credentials/{id}"
        and isinstance(body, dict)
        and isinstance(body.get("config"), dict)
        and not isinstance(body.get("secrets"), dict)
    ):
        if "issuer" in body["config"]:
            body["secrets"] = {"private_key": SERVICE_ACCOUNT_KEY}
        else:
            body["secrets"] = {"client_secret": "contract-client-secret"}
