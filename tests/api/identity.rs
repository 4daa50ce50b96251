//! Keystone v2.0 and v3 documents, asserted field by field.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp, spawn_app};

const REGIONS: [&str; 5] = ["DFW", "IAD", "ORD", "HKG", "SYD"];

async fn v2_tokens(app: &TestApp, auth: Value) -> reqwest::Response {
    app.client.post(app.url("/v2.0/tokens")).json(&json!({ "auth": auth })).send().await.unwrap()
}

fn is_millisecond_utc(s: &str) -> bool {
    // YYYY-MM-DDTHH:MM:SS.fffZ
    s.len() == 24
        && s.ends_with('Z')
        && &s[4..5] == "-"
        && &s[10..11] == "T"
        && &s[19..20] == "."
        && s[20..23].chars().all(|c| c.is_ascii_digit())
}

fn assert_v2_access(app: &TestApp, body: &Value, tenant: &str, user: &str, authenticated_by: &str) {
    let access = &body["access"];
    let token = &access["token"];
    assert!(token["id"].as_str().unwrap().len() > 20);
    let expires = token["expires"].as_str().unwrap();
    assert!(is_millisecond_utc(expires), "expires was {expires}");
    let expires_at = chrono::DateTime::parse_from_rfc3339(expires).unwrap();
    assert!(expires_at > chrono::Utc::now() + chrono::Duration::hours(23));
    assert_eq!(token["tenant"], json!({ "id": tenant, "name": tenant }));
    assert_eq!(token["RAX-AUTH:authenticatedBy"], json!([authenticated_by]));

    assert_eq!(access["user"]["name"], user);
    assert!(uuid::Uuid::parse_str(access["user"]["id"].as_str().unwrap()).is_ok());
    assert!(access["user"]["roles"].as_array().unwrap().iter().all(|r| r["name"].is_string() && r["id"].is_string()));
    assert_eq!(access["user"]["RAX-AUTH:defaultRegion"], "DFW");

    let catalog = access["serviceCatalog"].as_array().unwrap();
    // Cloud Databases has an endpoint per region (the home region, DFW, the plain one); Cloud
    // Backup one for every region.
    let expected = [("cloudDatabases", "rax:database", true), ("cloudDatabases", "database", true), ("cloudBackup", "rax:backup", false)];
    assert_eq!(catalog.len(), expected.len());
    let plain = format!("{}/v1.0/{tenant}", app.base);
    for (name, ty, regional) in expected {
        let entry = catalog.iter().find(|e| e["type"] == ty).unwrap_or_else(|| panic!("no {ty} in the catalog"));
        assert_eq!(entry["name"], name);
        let endpoints = entry["endpoints"].as_array().unwrap();
        let regions: Vec<&str> = endpoints.iter().map(|e| e["region"].as_str().unwrap()).collect();
        assert_eq!(regions, REGIONS);
        for e in endpoints {
            let url = match e["region"].as_str().unwrap() {
                region if regional && region != "DFW" => format!("{plain}/regions/{region}"),
                _ => plain.clone(),
            };
            assert_eq!(e["publicURL"], url.as_str());
            assert_eq!(e["internalURL"], url.as_str());
            assert_eq!(e["tenantId"], tenant);
        }
    }
}

#[tokio::test]
async fn v2_password_credentials_answer_200_with_the_access_document_and_catalog() {
    let app = spawn_app().await;
    let resp =
        v2_tokens(&app, json!({ "passwordCredentials": { "username": "admin", "password": ADMIN_PASSWORD }, "tenantId": "default" })).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_v2_access(&app, &body, "default", "admin", "PASSWORD");

    let token = body["access"]["token"]["id"].as_str().unwrap();
    let me: Value = app.whoami(("x-auth-token", token)).await.json().await.unwrap();
    assert_eq!(me["user"], "admin");
}

#[tokio::test]
async fn v2_rackspace_api_key_credentials_answer_a_token() {
    let app = spawn_app().await;
    let session = app.user_with_role("alice", "operator", None).await;
    let (key, _) = app.api_key(&session, false).await;
    let resp = v2_tokens(&app, json!({ "RAX-KSKEY:apiKeyCredentials": { "username": "alice", "apiKey": key } })).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_v2_access(&app, &body, "default", "alice", "APIKEY");
    assert_eq!(body["access"]["user"]["roles"][0]["name"], "operator");
}

#[tokio::test]
async fn v2_token_credentials_answer_a_fresh_token_for_the_same_user() {
    let app = spawn_app().await;
    let session = app.login("admin", ADMIN_PASSWORD).await;
    let resp = v2_tokens(&app, json!({ "token": { "id": session }, "tenantId": "default" })).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_v2_access(&app, &body, "default", "admin", "TOKEN");
    assert_ne!(body["access"]["token"]["id"], session.as_str());
}

#[tokio::test]
async fn v2_bad_credentials_answer_401_with_an_unauthorized_fault() {
    let app = spawn_app().await;
    for auth in [
        json!({ "passwordCredentials": { "username": "admin", "password": "wrong" } }),
        json!({ "RAX-KSKEY:apiKeyCredentials": { "username": "admin", "apiKey": "ck_nothere_secret" } }),
        json!({ "token": { "id": "not-a-token" } }),
    ] {
        let resp = v2_tokens(&app, auth.clone()).await;
        assert_eq!(resp.status(), 401, "{auth}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["unauthorized"]["code"], 401);
        assert!(body["unauthorized"]["message"].is_string());
    }
    let malformed = v2_tokens(&app, json!({ "nothing": true })).await;
    assert_eq!(malformed.status(), 400);
    assert_eq!(malformed.json::<Value>().await.unwrap()["badRequest"]["code"], 400);
}

#[tokio::test]
async fn v2_tenant_is_matched_loosely_and_a_foreign_tenant_is_refused() {
    let app = spawn_app().await;
    app.tenant("1234").await;
    app.user_with_role("bob", "operator", Some("1234")).await;
    let creds = json!({ "username": "bob", "password": "bob-password" });

    // pyrax's fallback sends the user name as tenantId.
    for tenant in [json!("1234"), json!(1234), json!("bob")] {
        let resp = v2_tokens(&app, json!({ "passwordCredentials": creds, "tenantId": tenant })).await;
        assert_eq!(resp.status(), 200, "tenantId {tenant}");
        assert_eq!(resp.json::<Value>().await.unwrap()["access"]["token"]["tenant"]["id"], "1234");
    }
    let foreign = v2_tokens(&app, json!({ "passwordCredentials": creds, "tenantName": "default" })).await;
    assert_eq!(foreign.status(), 401);

    // An admin may scope to any tenant.
    let admin =
        v2_tokens(&app, json!({ "passwordCredentials": { "username": "admin", "password": ADMIN_PASSWORD }, "tenantId": "1234" })).await;
    assert_eq!(admin.status(), 200);
    let body: Value = admin.json().await.unwrap();
    assert_v2_access(&app, &body, "1234", "admin", "PASSWORD");
    let me: Value = app.whoami(("x-auth-token", body["access"]["token"]["id"].as_str().unwrap())).await.json().await.unwrap();
    assert_eq!(me["tenant"], "1234");
}

#[tokio::test]
async fn v3_password_answers_201_with_the_subject_token_and_the_catalog() {
    let app = spawn_app().await;
    let body = json!({ "auth": {
        "identity": { "methods": ["password"], "password": { "user": { "name": "admin", "password": ADMIN_PASSWORD, "domain": { "id": "default" } } } },
        "scope": { "project": { "id": "default" } }
    }});
    let resp = app.client.post(app.url("/v3/auth/tokens")).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let token = resp.headers()["x-subject-token"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    let t = &body["token"];
    let expires = chrono::DateTime::parse_from_rfc3339(t["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires > chrono::Utc::now());
    assert_eq!(t["methods"], json!(["password"]));
    assert_eq!(t["user"]["name"], "admin");
    assert_eq!(t["project"]["id"], "default");
    assert_eq!(t["project"]["name"], "default");
    assert_eq!(t["roles"][0]["name"], "admin");
    let catalog = t["catalog"].as_array().unwrap();
    let database = catalog.iter().find(|e| e["type"] == "database").unwrap();
    let endpoints = database["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 2 * REGIONS.len());
    let dfw_public = endpoints.iter().find(|e| e["region_id"] == "DFW" && e["interface"] == "public").unwrap();
    assert_eq!(dfw_public["url"], format!("{}/v1.0/default", app.base));
    assert_eq!(dfw_public["region"], "DFW");
    let iad_public = endpoints.iter().find(|e| e["region_id"] == "IAD" && e["interface"] == "public").unwrap();
    assert_eq!(iad_public["url"], format!("{}/v1.0/default/regions/IAD", app.base));
    assert!(catalog.iter().any(|e| e["type"] == "rax:backup" && e["name"] == "cloudBackup"));

    assert_eq!(app.whoami(("x-auth-token", &token)).await.status(), 200);
}

#[tokio::test]
async fn v3_bad_password_answers_401_in_keystone_shape() {
    let app = spawn_app().await;
    let body =
        json!({ "auth": { "identity": { "methods": ["password"], "password": { "user": { "name": "admin", "password": "wrong" } } } } });
    let resp = app.client.post(app.url("/v3/auth/tokens")).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], 401);
    assert_eq!(body["error"]["title"], "Unauthorized");
}

#[tokio::test]
async fn discovery_documents_describe_both_versions() {
    let app = spawn_app().await;
    let root = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(root.status(), 300);
    let root: Value = root.json().await.unwrap();
    let ids: Vec<&str> = root["versions"]["values"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["v3.14", "v2.0"]);

    let v2: Value = app.client.get(app.url("/v2.0")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v2["version"]["id"], "v2.0");
    assert_eq!(v2["version"]["links"][0]["href"], format!("{}/v2.0/", app.base));
    let v3: Value = app.client.get(app.url("/v3")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v3["version"]["id"], "v3.14");
    assert_eq!(v3["version"]["links"][0]["href"], format!("{}/v3/", app.base));
}

#[tokio::test]
async fn a_server_without_a_public_url_names_the_port_it_listens_on_in_every_link() {
    let app = crate::helpers::spawn_app_with(|s| s.public_url = coffer::config::Settings::default().public_url).await;
    assert_ne!(app.base, "http://127.0.0.1:8888", "the test server listens on a port of its own");

    let resp =
        v2_tokens(&app, json!({ "passwordCredentials": { "username": "admin", "password": ADMIN_PASSWORD }, "tenantId": "default" })).await;
    assert_eq!(resp.status(), 200);
    let access: Value = resp.json().await.unwrap();
    let endpoints: Vec<&str> = access["access"]["serviceCatalog"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["endpoints"].as_array().unwrap())
        .map(|e| e["publicURL"].as_str().unwrap())
        .collect();
    assert!(!endpoints.is_empty(), "{access}");
    for url in endpoints {
        assert!(url.starts_with(&format!("{}/", app.base)), "catalog endpoint {url} names {}", app.base);
    }

    let root: Value = app.client.get(app.url("/")).send().await.unwrap().json().await.unwrap();
    for version in root["versions"]["values"].as_array().unwrap() {
        let href = version["links"][0]["href"].as_str().unwrap();
        assert!(href.starts_with(&format!("{}/v", app.base)), "discovery names {href}: {root}");
    }
    let spec: Value = app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(spec["servers"][0]["url"], app.base.as_str(), "Swagger's server entry");
    let refused = app.client.get(app.url("/provisioning/v1")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["link"], format!("{}/docs", app.base), "Instaclustr's error link: {refused}");
}

#[tokio::test]
async fn a_public_url_that_is_set_is_kept_whatever_the_listen_address() {
    let app = crate::helpers::spawn_app_with(|s| s.public_url = "https://backup.example.net/".into()).await;
    let resp =
        v2_tokens(&app, json!({ "passwordCredentials": { "username": "admin", "password": ADMIN_PASSWORD }, "tenantId": "default" })).await;
    let access: Value = resp.json().await.unwrap();
    let url = access["access"]["serviceCatalog"][0]["endpoints"][0]["publicURL"].as_str().unwrap();
    assert!(url.starts_with("https://backup.example.net/v1.0/"), "{access}");
    let v2: Value = app.client.get(app.url("/v2.0")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v2["version"]["links"][0]["href"], "https://backup.example.net/v2.0/");
}

#[tokio::test]
async fn v2_accepts_what_each_stock_client_sends_and_refuses_incomplete_credentials_with_a_bad_request_fault() {
    let app = spawn_app().await;
    let password = json!({ "username": "admin", "password": ADMIN_PASSWORD });
    for auth in [
        // troveclient's legacy client and keystoneauth's v2.Password.
        json!({ "passwordCredentials": password, "tenantId": "default" }),
        // troveclient with project_id, a null tenant, and keys of other clients beside them.
        json!({ "passwordCredentials": password, "tenantName": "default", "tenantId": null, "RAX-AUTH:domain": { "name": "Rackspace" } }),
        json!({ "passwordCredentials": password }),
    ] {
        let resp = v2_tokens(&app, auth.clone()).await;
        assert_eq!(resp.status(), 200, "{auth}");
        let body: Value = resp.json().await.unwrap();
        assert_v2_access(&app, &body, "default", "admin", "PASSWORD");
        let mut keys: Vec<&str> = body["access"]["token"].as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["RAX-AUTH:authenticatedBy", "expires", "id", "issued_at", "tenant"]);
    }
    for auth in [
        json!({ "passwordCredentials": { "username": "admin" } }),
        json!({ "RAX-KSKEY:apiKeyCredentials": { "username": "admin" } }),
        json!({ "passwordCredentials": password, "tenantId": { "id": "default" } }),
    ] {
        let resp = v2_tokens(&app, auth.clone()).await;
        assert_eq!(resp.status(), 400, "{auth}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["badRequest"]["code"], 400, "{auth}: {body}");
        assert!(body["badRequest"]["message"].as_str().unwrap().contains("IdentityV2"), "names the model: {body}");
    }
    let no_auth = app.client.post(app.url("/v2.0/tokens")).json(&json!({ "passwordCredentials": password })).send().await.unwrap();
    assert_eq!(no_auth.status(), 400);
    for (auth, message) in [
        (
            json!({ "passwordCredentials": password, "token": { "id": "t" } }),
            "auth takes one of passwordCredentials, RAX-KSKEY:apiKeyCredentials, token, not several",
        ),
        (json!({ "tenantId": "default" }), "auth needs one of passwordCredentials, RAX-KSKEY:apiKeyCredentials, token"),
    ] {
        let resp = v2_tokens(&app, auth.clone()).await;
        assert_eq!(resp.status(), 400, "{auth}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["badRequest"]["code"], 400, "{auth}: {body}");
        assert!(body["badRequest"]["message"].as_str().unwrap().contains(message), "{auth}: {body}");
    }
    // A credential kind sent as null is one left out.
    let resp = v2_tokens(&app, json!({ "passwordCredentials": password, "token": null })).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn v3_accepts_unscoped_and_project_name_scopes_and_the_token_method() {
    let app = spawn_app().await;
    app.tenant("1234").await;
    let user = json!({ "name": "admin", "password": ADMIN_PASSWORD, "domain": { "name": "Default" } });
    let v3 = |scope: Value| {
        let mut auth = json!({ "identity": { "methods": ["password"], "password": { "user": user.clone() } } });
        if !scope.is_null() {
            auth["scope"] = scope;
        }
        app.client.post(app.url("/v3/auth/tokens")).json(&json!({ "auth": auth })).send()
    };
    for (scope, project) in [
        (json!("unscoped"), "default"),
        (Value::Null, "default"),
        (json!({ "project": { "name": "1234", "domain": { "id": "default" } } }), "1234"),
        (json!({ "project": { "id": "1234" } }), "1234"),
    ] {
        let resp = v3(scope.clone()).await.unwrap();
        assert_eq!(resp.status(), 201, "{scope}");
        assert!(resp.headers().contains_key("x-subject-token"));
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["token"]["project"], json!({ "id": project, "name": project, "domain": { "id": "default", "name": "Default" } }));
        assert_eq!(body["token"]["user"]["domain"], json!({ "id": "default", "name": "Default" }), "{body}");
        let public = body["token"]["catalog"][0]["endpoints"].as_array().unwrap().iter().filter(|e| e["interface"] == "public").count();
        assert_eq!(public, REGIONS.len(), "{body}");
    }

    let first = v3(Value::Null).await.unwrap();
    let token = first.headers()["x-subject-token"].to_str().unwrap().to_owned();
    let again = json!({ "auth": { "identity": { "methods": ["token"], "token": { "id": token } } } });
    let resp = app.client.post(app.url("/v3/auth/tokens")).json(&again).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!((body["token"]["methods"].clone(), body["token"]["user"]["name"].clone()), (json!(["token"]), json!("admin")));

    let totp = json!({ "auth": { "identity": { "methods": ["totp"] } } });
    let resp = app.client.post(app.url("/v3/auth/tokens")).json(&totp).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("\"totp\"") && message.contains("IdentityV3Method"), "names the method and its type: {body}");
}

#[tokio::test]
async fn v3_takes_one_method_with_the_object_it_names_and_a_user_by_name_or_id() {
    let app = spawn_app().await;
    let user = json!({ "name": "admin", "password": ADMIN_PASSWORD });
    for (identity, message) in [
        (json!({ "methods": ["password", "token"], "password": { "user": user.clone() }, "token": { "id": "t" } }), "maxItems(1)"),
        (json!({ "methods": ["token"], "password": { "user": user.clone() } }), "the token method needs identity.token"),
        (json!({ "methods": ["password"], "token": { "id": "t" } }), "the password method needs identity.password"),
        (
            json!({ "methods": ["password"], "password": { "user": { "password": ADMIN_PASSWORD } } }),
            "identity.password.user needs a name or an id",
        ),
    ] {
        let resp = app.client.post(app.url("/v3/auth/tokens")).json(&json!({ "auth": { "identity": identity } })).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{identity}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["title"], "Bad Request", "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(message), "{identity}: {body}");
    }
    // The method named is the one used, whatever else is sent beside it.
    let with_both =
        json!({ "auth": { "identity": { "methods": ["password"], "password": { "user": user }, "token": { "id": "not a token" } } } });
    let resp = app.client.post(app.url("/v3/auth/tokens")).json(&with_both).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token"]["methods"], json!(["password"]));
}

#[tokio::test]
async fn the_version_documents_are_whole_and_the_identity_document_names_every_body() {
    let app = spawn_app().await;
    let v2: Value = app.client.get(app.url("/v2.0")).send().await.unwrap().json().await.unwrap();
    let expected = json!({ "version": {
        "id": "v2.0", "status": "stable", "updated": "2014-04-17T00:00:00Z",
        "links": [{ "rel": "self", "href": format!("{}/v2.0/", app.base) }],
        "media-types": [{ "base": "application/json", "type": "application/vnd.openstack.identity-v2.0+json" }],
    }});
    assert_eq!(v2, expected);

    let doc: Value = app.client.get(app.url("/openapi/identity.json")).send().await.unwrap().json().await.unwrap();
    let body_of = |path: &str, method: &str, part: &str| -> Value {
        let op = &doc["paths"][path][method];
        let content = if part == "request" { &op["requestBody"]["content"] } else { &op["responses"][part]["content"] };
        content.as_object().unwrap().values().next().unwrap()["schema"]["$ref"].clone()
    };
    let named = |name: &str| json!(format!("#/components/schemas/{name}"));
    assert_eq!(body_of("/v2.0/tokens", "post", "request"), named("IdentityV2TokensRequest"));
    assert_eq!(body_of("/v2.0/tokens", "post", "200"), named("IdentityV2Access"));
    assert_eq!(body_of("/v3/auth/tokens", "post", "request"), named("IdentityV3TokensRequest"));
    assert_eq!(body_of("/v3/auth/tokens", "post", "201"), named("IdentityV3TokenDocument"));
    assert_eq!(body_of("/", "get", "300"), named("IdentityVersions"));
    assert_eq!(body_of("/v3", "get", "200"), named("IdentityOneVersion"));
    let schemas = &doc["components"]["schemas"];
    let v2_auth = &schemas["IdentityV2Auth"]["properties"];
    for key in ["passwordCredentials", "RAX-KSKEY:apiKeyCredentials", "token", "tenantId", "tenantName"] {
        assert!(v2_auth.get(key).is_some(), "{key}: {v2_auth}");
    }
    assert_eq!(schemas["IdentityAuthenticatedBy"]["enum"], json!(["PASSWORD", "APIKEY", "TOKEN"]));
    // The rules between fields are in the schemas: one credential kind (not null), one method
    // with its object, a user by name or id.
    let required = |forms: &Value| -> Vec<Value> { forms.as_array().unwrap().iter().map(|f| f["required"].clone()).collect() };
    assert_eq!(
        required(&schemas["IdentityV2Auth"]["oneOf"]),
        [json!(["passwordCredentials"]), json!(["RAX-KSKEY:apiKeyCredentials"]), json!(["token"])]
    );
    assert_eq!(schemas["IdentityV2Auth"]["oneOf"][2]["properties"]["token"], json!({ "type": "object" }));
    assert_eq!(required(&schemas["IdentityV3Identity"]["oneOf"]), [json!(["methods", "password"]), json!(["methods", "token"])]);
    assert_eq!(schemas["IdentityV3Identity"]["oneOf"][1]["properties"]["methods"]["items"]["enum"], json!(["token"]));
    assert_eq!(schemas["IdentityV3Identity"]["properties"]["methods"]["maxItems"], 1);
    assert_eq!(required(&schemas["IdentityV3User"]["anyOf"]), [json!(["name"]), json!(["id"])]);
    assert!(schemas["IdentityV2Access"]["example"]["access"]["serviceCatalog"].is_array(), "with an example");
}
