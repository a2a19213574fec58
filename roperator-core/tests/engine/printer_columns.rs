//! What `kubectl get` shows of a parent: the printer columns of a CRD declared with
//! `status::add_to_crd`, served as a Table by the API server.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use roperator_core::status;
use roperator_core::testkit::{ApiServer, TestOperator};
use serde_json::{Value, json};

use crate::common::*;

/// What kubectl sends when it lists objects for display.
const KUBECTL_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

/// `kubectl get echoes` as the API server answers it: column names and the first row's cells.
async fn kubectl_get_echoes(server: &ApiServer) -> (Vec<String>, Vec<Value>) {
    let request = http::Request::get("/apis/test.roperator.io/v1/namespaces/default/echoes")
        .header(http::header::ACCEPT, KUBECTL_ACCEPT)
        .body(Vec::new())
        .expect("a request");
    let text = server
        .client()
        .request_text(request)
        .await
        .unwrap_or_else(|e| panic!("kubectl get echoes fails: {e}"));
    let table: Value = serde_json::from_str(&text).expect("a JSON Table");
    let names = table["columnDefinitions"]
        .as_array()
        .expect("columnDefinitions")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let cells = table["rows"][0]["cells"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (names, cells)
}

/// `status::synced_column()` reads the condition with a JSONPath filter
/// (`.status.conditions[?(@.type=="Synced")].status`), which the API server evaluates when
/// `kubectl get` asks for a Table: the column shows the engine's Synced condition of each parent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_shows_the_synced_column_that_add_to_crd_declares() {
    let server = ApiServer::new();
    let mut crd: CustomResourceDefinition =
        serde_json::from_value(echo_crd()).expect("a valid CRD");
    crd.spec.versions[0].additional_printer_columns = Some(Vec::new());
    status::add_to_crd(&mut crd);
    server.register_crd(&crd).expect("the CRD registers");
    let op = TestOperator::start(&server, config(), echo_handler);
    create_echo(&server, "shown", json!({"message": "hi"})).await;
    op.converge(LONG).await.unwrap();

    let (names, cells) = kubectl_get_echoes(&server).await;
    let synced = names
        .iter()
        .position(|n| n == "Synced")
        .unwrap_or_else(|| panic!("no Synced column in {names:?}"));
    assert_eq!(cells.get(synced), Some(&json!("True")), "{cells:?}");
    op.stop().await.unwrap();
}
