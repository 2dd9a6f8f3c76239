//! What the document says beyond what the Rust types say, so that it is exactly as loose
//! and as strict as the server: the patterns of names, descriptions, cursors and `If-Match`;
//! each connector's `config` and `secrets` as a `oneOf` generated from its own field list;
//! and `links` from a created record to the operations on it.
//!
//! Each rule is written once for its whole class (every request's `name`, every `cursor`
//! parameter, every collection that creates records), on the document as JSON.

use latch_connector::{AuthMethod, Connector, section_example, section_schema};
use latch_core::catalogue::Catalogue;
use latch_core::credentials::{CREDENTIAL_CURSOR_PATTERN, NAME_QUERY_PATTERN};
use latch_core::input::{
    CURSOR_PATTERN, description_pattern, name_pattern, url_on_origins_pattern,
};
use serde_json::{Map, Value, json};

/// The consent method's name, in component names.
const OAUTH: &str = AuthMethod::OauthAuthorizationCode.as_str();

/// `If-Match`: one strong entity tag as this server gives them, or `*`.
const IF_MATCH_PATTERN: &str = r#"^(\*|"[0-9]{1,18}")$"#;

/// Makes the document exact for a server offering `catalogue`'s connectors.
pub fn apply(openapi: &mut utoipa::openapi::OpenApi, catalogue: &Catalogue) {
    let mut document = serde_json::to_value(&*openapi).expect("the document is JSON");
    text_patterns(&mut document);
    parameter_patterns(&mut document);
    connector_examples(&mut document, catalogue);
    connector_ids(&mut document, catalogue);
    connector_schemas(&mut document, catalogue);
    source_configs(&mut document);
    changes_name_a_field(&mut document);
    links(&mut document);
    *openapi = serde_json::from_value(document).expect("the document reads back");
}

/// The document one server serves: `return_to` may only name its own origin or one of its
/// console origins, which a document written for every deployment cannot list.
pub fn for_deployment(openapi: &mut utoipa::openapi::OpenApi, allowed_origins: &[String]) {
    let mut document = serde_json::to_value(&*openapi).expect("the document is JSON");
    let pattern = url_on_origins_pattern(allowed_origins);
    if let Some(schemas) = document["components"]["schemas"].as_object_mut() {
        for schema in schemas.values_mut() {
            if let Some(property) = schema.pointer_mut("/properties/return_to") {
                property["pattern"] = json!(pattern);
            }
        }
    }
    *openapi = serde_json::from_value(document).expect("the document reads back");
}

/// A text pattern for a length limit.
type PatternOfLength = fn(usize) -> String;

/// Every request's `name` and `description`, as the server trims and checks them. The
/// server counts a text's length once it has trimmed it, which `minLength`/`maxLength` cannot
/// say (they count the white space around it too): the length moves into the pattern.
fn text_patterns(document: &mut Value) {
    let Some(schemas) = document["components"]["schemas"].as_object_mut() else {
        return;
    };
    let fields: [(&str, PatternOfLength); 2] =
        [("name", name_pattern), ("description", description_pattern)];
    for (name, schema) in schemas.iter_mut() {
        if !name.ends_with("Request") {
            continue;
        }
        let Some(properties) = schema.get_mut("properties") else {
            continue;
        };
        for (field, pattern) in fields {
            let Some(property) = properties.get_mut(field).and_then(Value::as_object_mut) else {
                continue;
            };
            let max = property
                .remove("maxLength")
                .and_then(|max| max.as_u64())
                .unwrap_or_else(|| panic!("{name}.{field} declares its maxLength"));
            property.remove("minLength");
            property.insert("pattern".into(), json!(pattern(max as usize)));
            let said = property
                .get("description")
                .and_then(Value::as_str)
                .map(|text| format!("{text} "))
                .unwrap_or_default();
            property.insert(
                "description".into(),
                json!(format!(
                    "{said}At most {max} characters, not counting the white space around it, \
                     which is trimmed."
                )),
            );
        }
    }
}

/// Every `cursor` query parameter and every `If-Match` header.
fn parameter_patterns(document: &mut Value) {
    for operation in operations_mut(document) {
        // A credential list's sorted orders carry the last row's keys in the cursor.
        let credentials = operation["operationId"] == "list_credentials";
        let Some(parameters) = operation["parameters"].as_array_mut() else {
            continue;
        };
        for parameter in parameters {
            let pattern = match (parameter["in"].as_str(), parameter["name"].as_str()) {
                (Some("query"), Some("cursor")) if credentials => CREDENTIAL_CURSOR_PATTERN,
                (Some("query"), Some("q")) if credentials => NAME_QUERY_PATTERN,
                (Some("query"), Some("cursor")) => CURSOR_PATTERN,
                (Some("header"), Some("If-Match")) => IF_MATCH_PATTERN,
                _ => continue,
            };
            parameter["schema"] = json!({"type": "string", "pattern": pattern});
        }
    }
}

/// The schemas whose examples show a connector's settings: credentials' (its client
/// credentials), and OAuth apps' (its OAuth settings).
const CREDENTIAL_EXAMPLES: [&str; 3] = [
    "CreateCredentialRequest",
    "TestCredentialRequest",
    "CredentialView",
];
const OAUTH_APP_EXAMPLES: [&str; 2] = ["CreateOAuthAppRequest", "OAuthAppView"];

/// The `config` of each example that names a connector, from that connector's own field
/// examples: the use cases' types know no connector's fields.
fn connector_examples(document: &mut Value, catalogue: &Catalogue) {
    let Some(schemas) = document["components"]["schemas"].as_object_mut() else {
        return;
    };
    for (name, schema) in schemas.iter_mut() {
        let oauth = OAUTH_APP_EXAMPLES.contains(&name.as_str());
        if !oauth && !CREDENTIAL_EXAMPLES.contains(&name.as_str()) {
            continue;
        }
        let Some(example) = schema.get_mut("example").and_then(Value::as_object_mut) else {
            continue;
        };
        let Some(connector) = example
            .get("connector")
            .and_then(Value::as_str)
            .and_then(|id| catalogue.get(id))
        else {
            continue;
        };
        let fields = match (oauth, connector.oauth()) {
            (false, _) => connector.config_fields(),
            (true, Some(flow)) => flow.config_fields(),
            (true, None) => continue,
        };
        example.insert("config".into(), section_example(fields));
    }
}

/// Every `connector` a request names (a body's field, a query's filter): one of the
/// catalogue's ids.
fn connector_ids(document: &mut Value, catalogue: &Catalogue) {
    let ids: Vec<&str> = catalogue.all().map(|connector| connector.id()).collect();
    for operation in operations_mut(document) {
        for parameter in operation["parameters"].as_array_mut().into_iter().flatten() {
            if parameter["in"] == "query" && parameter["name"] == "connector" {
                parameter["schema"] = json!({"type": "string", "enum": ids});
            }
        }
    }
    let Some(schemas) = document["components"]["schemas"].as_object_mut() else {
        return;
    };
    for (name, schema) in schemas.iter_mut() {
        if let Some(property) = schema
            .get_mut("properties")
            .and_then(|properties| properties.get_mut("connector"))
            && name.ends_with("Request")
        {
            property["enum"] = json!(ids);
        }
    }
}

/// The request bodies that carry a connector's sections become a `oneOf` with one member per
/// connector, told apart by `connector`; the sections themselves are components generated
/// from each connector's field list, as `GET /v1/connectors/{id}` shows them.
fn connector_schemas(document: &mut Value, catalogue: &Catalogue) {
    let schemas = document["components"]["schemas"]
        .as_object_mut()
        .expect("the document has schemas");
    for connector in catalogue.all() {
        for (name, schema) in sections(catalogue, connector) {
            schemas.insert(name, schema);
        }
    }
    for request in ["CreateCredentialRequest", "TestCredentialRequest"] {
        let members = catalogue
            .all()
            .filter(|c| offers_client_credentials(*c))
            .map(|connector| {
                let typed = typed_sections(catalogue, connector)
                    .into_iter()
                    .map(|(method, prefix)| {
                        let config = reference(&format!("{prefix}.config"));
                        (
                            Some(method),
                            config,
                            reference(&format!("{prefix}.secrets")),
                        )
                    })
                    .collect();
                (connector.id(), typed)
            })
            .collect();
        one_member_per_connector(schemas, request, members);
    }
    // An OAuth app's settings and secrets are the connector's OAuth sections; an app of a
    // connector whose apps have no secret takes an empty object (or nothing).
    let app_members = catalogue
        .all()
        .filter_map(|connector| {
            let flow = connector.oauth()?;
            let id = connector.id();
            let config = reference(&format!("{id}.{OAUTH}.config"));
            let secrets = match flow.secret_fields().is_empty() {
                true => json!({"type": ["object", "null"], "maxProperties": 0}),
                false => reference(&format!("{id}.{OAUTH}.secrets")),
            };
            Some((id, vec![(None, config, secrets)]))
        })
        .collect();
    one_member_per_connector(schemas, "CreateOAuthAppRequest", app_members);
    // A change sends some of the stored credential's settings and, to rotate, its secrets
    // whole: the sections of any method a person types, settings not required.
    let update = &mut schemas["UpdateCredentialRequest"]["properties"];
    let typed: Vec<&dyn Connector> = catalogue
        .all()
        .flat_map(|connector| catalogue.typed_methods(connector.id()))
        .collect();
    update["config"] = nullable_any_of(&typed, &update["config"], |entry| {
        Some(without_required(section_schema(entry.config_fields())))
    });
    update["secrets"] = nullable_any_of(&typed, &update["secrets"], |entry| {
        Some(reference(&format!(
            "{}.secrets",
            section_prefix(catalogue, entry)
        )))
    });
    // A change replaces an app's settings or secrets whole, as the app's connector has them.
    let app_update = &mut schemas["UpdateOAuthAppRequest"]["properties"];
    let all: Vec<&dyn Connector> = catalogue.all().collect();
    app_update["secrets"] = nullable_any_of(&all, &app_update["secrets"], |connector| {
        let flow = connector.oauth()?;
        Some(match flow.secret_fields().is_empty() {
            true => json!({"type": "object", "maxProperties": 0}),
            false => reference(&format!("{}.{OAUTH}.secrets", connector.id())),
        })
    });
    // Only `false` moves an app; none moves back to the shared redirect URI. (One boolean
    // member and `null` beside it: openapi-python-client cannot read an `enum` that holds
    // both `false` and `null`.)
    let shared = &mut app_update["shared_redirect_uri"];
    let mut only_false = json!({
        "anyOf": [{"type": "boolean", "enum": [false]}, {"type": "null"}],
    });
    if let Some(description) = shared.get("description") {
        only_false["description"] = description.clone();
    }
    *shared = only_false;
    app_update["config"] = nullable_any_of(&all, &app_update["config"], |connector| {
        connector
            .oauth()
            .map(|_| reference(&format!("{}.{OAUTH}.config", connector.id())))
    });
}

/// One connector's way of a request: its `auth_method` (for credentials; `None` for apps)
/// with the `config` and `secrets` schemas it takes.
type Alternative = (Option<AuthMethod>, Value, Value);

/// `request` as a `oneOf` with one member per connector, told apart by `connector`: each
/// member is the request with that connector's `config` and `secrets` schemas. A member's
/// `secrets` is required exactly when the request requires it or the schema is a section.
/// A connector with several methods a person types has a member that is itself a `oneOf`,
/// one per method, told apart by `auth_method` (required but for the first, which is what
/// leaving it out means).
fn one_member_per_connector(
    schemas: &mut Map<String, Value>,
    request: &str,
    connectors: Vec<(&str, Vec<Alternative>)>,
) {
    let general = schemas[request].clone();
    let mut members = Vec::new();
    let mut mapping = Map::new();
    for (id, alternatives) in connectors {
        let member_name = format!("{request}.{id}");
        let several = alternatives.len() > 1;
        let mut parts = Vec::new();
        for (index, (method, config, secrets)) in alternatives.into_iter().enumerate() {
            let mut part = member_of(&general, id, (method, index == 0), config, secrets);
            if index > 0
                && let Some(required) = part["required"].as_array_mut()
            {
                required.push(json!("auth_method"));
            }
            match (several, method) {
                (true, Some(method)) => {
                    let part_name = format!("{member_name}.{}", method.as_str());
                    parts.push(reference(&part_name));
                    schemas.insert(part_name, part);
                }
                _ => {
                    schemas.insert(member_name.clone(), part);
                }
            }
        }
        if several {
            schemas.insert(member_name.clone(), json!({"oneOf": parts}));
        }
        mapping.insert(id.to_string(), json!(component(&member_name)));
        members.push(reference(&member_name));
    }
    let mut combined = json!({
        "oneOf": members,
        "discriminator": {"propertyName": "connector", "mapping": mapping},
    });
    for keyword in ["description", "example"] {
        if let Some(value) = general.get(keyword) {
            combined[keyword] = value.clone();
        }
    }
    schemas.insert(request.to_string(), combined);
}

/// The request as one connector's method takes it.
/// `method` is the member's `auth_method` and whether it is the connector's first, which a
/// request may also mean by leaving it out or sending `null`.
fn member_of(
    general: &Value,
    id: &str,
    (method, first): (Option<AuthMethod>, bool),
    config: Value,
    secrets: Value,
) -> Value {
    let mut member = general.clone();
    let section_secrets = secrets.get("$ref").is_some();
    let properties = &mut member["properties"];
    properties["connector"] = json!({"type": "string", "enum": [id]});
    if let Some(method) = method {
        let named = json!({"type": "string", "enum": [method.as_str()]});
        let mut only = match first {
            true => json!({"anyOf": [named, {"type": "null"}]}),
            false => named,
        };
        if let Some(description) = general.pointer("/properties/auth_method/description") {
            only["description"] = description.clone();
        }
        properties["auth_method"] = only;
    }
    properties["config"] = config;
    let mut secrets = secrets;
    if let (false, Some(description)) = (
        section_secrets,
        general.pointer("/properties/secrets/description"),
    ) {
        secrets["description"] = description.clone();
    }
    properties["secrets"] = secrets;
    if let Some(object) = member.as_object_mut() {
        object.remove("example");
        object.remove("description");
    }
    if section_secrets
        && let Some(required) = member["required"].as_array_mut()
        && !required.contains(&json!("secrets"))
    {
        required.push(json!("secrets"));
    }
    member
}

/// A change (`Update...Request`) must send at least one of its fields, and `null` reads as
/// not sent: the request's object, and any one of its properties present with a value.
/// Fields of change requests whose `null` is itself a change (a webhook's `events: null`:
/// every event again), not "left as it is".
const NULL_IS_A_CHANGE: &[(&str, &str)] = &[("UpdateWebhookRequest", "events")];

fn changes_name_a_field(document: &mut Value) {
    let Some(schemas) = document["components"]["schemas"].as_object_mut() else {
        return;
    };
    for (name, schema) in schemas.iter_mut() {
        if !(name.starts_with("Update") && name.ends_with("Request")) {
            continue;
        }
        let Some(object) = schema.as_object_mut() else {
            continue;
        };
        let mut outer = Map::new();
        for keyword in ["description", "example"] {
            if let Some(value) = object.remove(keyword) {
                outer.insert(keyword.into(), value);
            }
        }
        let any_sent: Vec<Value> = object
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(field, property)| {
                let sent = if NULL_IS_A_CHANGE.contains(&(name.as_str(), field.as_str())) {
                    property.clone()
                } else {
                    not_null(property)
                };
                json!({
                    "type": "object",
                    "required": [field],
                    "properties": {field: sent},
                })
            })
            .collect();
        outer.insert(
            "allOf".into(),
            json!([Value::Object(object.clone()), {"anyOf": any_sent}]),
        );
        *schema = Value::Object(outer);
    }
}

/// `property` without its `null`: the types it lists but `null`, or the members of its
/// `anyOf` but `{"type": "null"}`.
fn not_null(property: &Value) -> Value {
    if let Some(members) = property.get("anyOf").and_then(Value::as_array) {
        let members: Vec<&Value> = members
            .iter()
            .filter(|member| **member != json!({"type": "null"}))
            .collect();
        return json!({"anyOf": members});
    }
    let types: Vec<&Value> = match &property["type"] {
        Value::Array(types) => types.iter().filter(|kind| *kind != "null").collect(),
        single => vec![single],
    };
    match types.as_slice() {
        [single] => json!({"type": single}),
        several => json!({"type": several}),
    }
}

/// A string without NUL.
const WITHOUT_NUL: &str = "^[^\\u0000]*$";

/// A data source's or destination's own `config`: any JSON object the database can store,
/// which is one without NUL in its strings and keys (PostgreSQL's text and JSON refuse it).
/// `null` or absent when creating means `{}`, when changing means "unchanged".
///
/// The rule for nested values is said in words, not as a recursive schema: the generators
/// clients are made with (openapi-python-client, openapi-typescript) cannot use one, and
/// drop the operations that name it. Its keys keep their pattern.
fn source_configs(document: &mut Value) {
    let schemas = document["components"]["schemas"]
        .as_object_mut()
        .expect("the document has schemas");
    for request in ["CreateDataSourceRequest", "UpdateDataSourceRequest"] {
        let Some(config) = schemas
            .get_mut(request)
            .and_then(|schema| schema.pointer_mut("/properties/config"))
        else {
            continue;
        };
        let said = config
            .get("description")
            .and_then(Value::as_str)
            .map(|text| format!("{text} "))
            .unwrap_or_default();
        *config = json!({
            "type": ["object", "null"],
            "description": format!(
                "{said}No string or key anywhere in it may hold a NUL character (U+0000), \
                 which the database cannot store."
            ),
            "propertyNames": {"type": "string", "pattern": WITHOUT_NUL},
            "additionalProperties": true,
        });
    }
}

/// A section whose fields may each be left out.
fn without_required(mut section: Value) -> Value {
    if let Some(object) = section.as_object_mut() {
        object.remove("required");
    }
    section
}

/// The section components of one connector, for the methods it offers: `{id}.config` and
/// `{id}.secrets` with its first typed method (`{id}.{method}.config` and `.secrets` with
/// any other), `{id}.oauth_authorization_code.config` (and `.secrets`, for apps with a
/// client secret) with consent.
fn sections(catalogue: &Catalogue, connector: &dyn Connector) -> Vec<(String, Value)> {
    let id = connector.id();
    let mut sections = Vec::new();
    for entry in catalogue.typed_methods(id) {
        let prefix = section_prefix(catalogue, entry);
        sections.push((
            format!("{prefix}.config"),
            section_schema(entry.config_fields()),
        ));
        sections.push((
            format!("{prefix}.secrets"),
            section_schema(entry.secret_fields()),
        ));
    }
    if let Some(flow) = connector.oauth() {
        sections.push((
            format!("{id}.{OAUTH}.config"),
            section_schema(flow.config_fields()),
        ));
        if !flow.secret_fields().is_empty() {
            sections.push((
                format!("{id}.{OAUTH}.secrets"),
                section_schema(flow.secret_fields()),
            ));
        }
    }
    sections
}

/// The methods a person types of a connector, each with the prefix of its sections.
fn typed_sections(catalogue: &Catalogue, connector: &dyn Connector) -> Vec<(AuthMethod, String)> {
    catalogue
        .typed_methods(connector.id())
        .into_iter()
        .filter_map(|entry| Some((entry.typed_method()?, section_prefix(catalogue, entry))))
        .collect()
}

/// `{id}` for a connector's first typed method (the connector itself), `{id}.{method}` for
/// another.
fn section_prefix(catalogue: &Catalogue, entry: &dyn Connector) -> String {
    let main = catalogue
        .get(entry.id())
        .and_then(|connector| connector.typed_method());
    match entry.typed_method() {
        Some(method) if main != Some(method) => format!("{}.{}", entry.id(), method.as_str()),
        _ => entry.id().to_string(),
    }
}

/// Whether credentials of this connector are made by `POST /v1/credentials`.
fn offers_client_credentials(connector: &dyn Connector) -> bool {
    connector.typed_method().is_some()
}

/// `null`, or one of the members made for the connectors that have one; the description
/// of the property it replaces is kept.
fn nullable_any_of(
    connectors: &[&dyn Connector],
    replaced: &Value,
    member: impl Fn(&dyn Connector) -> Option<Value>,
) -> Value {
    let members: Vec<Value> = std::iter::once(json!({"type": "null"}))
        .chain(connectors.iter().filter_map(|connector| member(*connector)))
        .collect();
    let mut property = json!({"anyOf": members});
    if let Some(description) = replaced.get("description") {
        property["description"] = description.clone();
    }
    property
}

fn component(name: &str) -> String {
    format!("#/components/schemas/{name}")
}

fn reference(name: &str) -> Value {
    json!({"$ref": component(name)})
}

/// Operations that never apply to what the collection's `POST` creates: a reconnect renews a
/// credential made by consent (the callback makes those), never one of client ID and secret.
const NOT_FOR_CREATED: [&str; 1] = ["reconnect_credential"];

/// A created record links to every operation on it: a `POST` to a collection answering 201
/// links to each operation of `{collection}/{id}` and of the paths below it (a data source
/// to its token and job keys), and a list to the reading of its first item.
fn links(document: &mut Value) {
    let paths: Vec<(String, Vec<(String, String)>)> = document["paths"]
        .as_object()
        .map(|paths| {
            paths
                .iter()
                .map(|(path, item)| (path.clone(), operation_ids(item)))
                .collect()
        })
        .unwrap_or_default();
    for (collection, _) in &paths {
        let prefix = format!("{collection}/{{id}}");
        // Operations that name a second record (a delivery, a job key) are linked from that
        // record's own list below.
        let targets: Vec<&(String, String)> = paths
            .iter()
            .filter(|(path, _)| path == &prefix || path.starts_with(&format!("{prefix}/")))
            .filter(|(path, _)| path.matches('{').count() == 1)
            .flat_map(|(_, operations)| operations)
            .collect();
        if targets.is_empty() {
            continue;
        }
        // A new webhook comes back with its secret beside it, as `{"webhook", "secret"}`.
        let created_id = if collection == "/v1/webhooks" {
            "$response.body#/webhook/id"
        } else {
            "$response.body#/id"
        };
        let item = &mut document["paths"][collection.as_str()];
        for (method, status, id_at) in [
            ("post", "201", created_id),
            ("get", "200", "$response.body#/items/0/id"),
        ] {
            let Some(response) = item
                .get_mut(method)
                .and_then(|operation| operation["responses"].get_mut(status))
            else {
                continue;
            };
            let mut links = Map::new();
            for (_, operation_id) in &targets {
                if method == "post" && NOT_FOR_CREATED.contains(&operation_id.as_str()) {
                    continue;
                }
                links.insert(
                    operation_id.clone(),
                    json!({"operationId": operation_id, "parameters": {"id": id_at}}),
                );
            }
            response["links"] = Value::Object(links);
        }
    }
    if let Some(listed) =
        document.pointer_mut("/paths/~1v1~1webhooks~1{id}~1deliveries/get/responses/200")
    {
        listed["links"] = json!({"retry_webhook_delivery": {
            "operationId": "retry_webhook_delivery",
            "parameters": {"id": "$request.path.id", "delivery_id": "$response.body#/items/0/id"},
        }});
    }
    // A job key made, or the first listed, is revoked under its source's path.
    for (kind, one) in [("sources", "source"), ("destinations", "destination")] {
        let operation_id = format!("revoke_job_key_of_data_{one}");
        for (method, status, key_at) in [
            ("post", "201", "$response.body#/id"),
            ("get", "200", "$response.body#/items/0/id"),
        ] {
            let pointer =
                format!("/paths/~1v1~1data-{kind}~1{{id}}~1job-keys/{method}/responses/{status}");
            if let Some(response) = document.pointer_mut(&pointer) {
                response["links"] = json!({operation_id.as_str(): {
                    "operationId": operation_id,
                    "parameters": {"id": "$request.path.id", "key_id": key_at},
                }});
            }
        }
    }
}

/// `(method, operationId)` of each operation of a path.
fn operation_ids(item: &Value) -> Vec<(String, String)> {
    item.as_object()
        .map(|methods| {
            methods
                .iter()
                .filter_map(|(method, operation)| {
                    Some((
                        method.clone(),
                        operation["operationId"].as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn operations_mut(document: &mut Value) -> impl Iterator<Item = &mut Value> {
    document["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|methods| methods.values_mut())
}
