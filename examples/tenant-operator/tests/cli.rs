//! The `tenant-operator` binary as users run it: the `crd` subcommand, a refused flag, a cluster
//! without the CRD, and the embedded mode through `kubectl`.

use std::path::Path;

use example_support::process::{self, finish, terminate};
use example_support::wait::eventually;
use roperator_testkit::ApiServer;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tenant-operator");

/// The binary with a clean environment: no in-cluster variables, no kubeconfig of the user's.
fn tenant_operator(home: &Path) -> Command {
    let mut command = process::command(BIN, home);
    command
        .env_remove("TENANT_DEFAULTS_NAMESPACE")
        .env_remove("TENANT_EMBEDDED")
        .env("TENANT_METRICS_ADDRESS", "127.0.0.1:0");
    command
}

#[tokio::test]
async fn the_crd_subcommand_prints_the_tenant_crd() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let output = tenant_operator(home.path())
        .arg("crd")
        .output()
        .await
        .expect("runs");
    assert!(output.status.success());
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        printed,
        tenant_operator::crd_yaml().expect("the CRD as YAML")
    );
    let crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
        serde_saphyr::from_str(&printed).expect("the YAML parses as a CRD");
    assert_eq!(crd, tenant_operator::crd(), "it reads back as the same CRD");
}

#[tokio::test]
async fn an_invalid_defaults_namespace_is_refused_before_anything_starts() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = home.path().join("embedded.kubeconfig");
    let child = tenant_operator(home.path())
        .args(["--embedded", "--defaults-namespace", "Ops_Team"])
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .spawn()
        .expect("tenant-operator starts");
    let (status, output) = finish(child).await;
    assert!(!status.success(), "{output}");
    assert!(
        output.contains("namespace \"Ops_Team\" is not a valid namespace name"),
        "{output}"
    );
    assert!(!kubeconfig.exists(), "no embedded server was started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_the_crd_is_refused_with_instructions() {
    let server = ApiServer::new();
    let listening = server.listen().await;
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = home.path().join("kubeconfig");
    listening.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let child = tenant_operator(home.path())
        .env("KUBECONFIG", &kubeconfig)
        .spawn()
        .expect("tenant-operator starts");
    let (status, output) = finish(child).await;
    assert!(!status.success(), "must fail without the CRD:\n{output}");
    assert!(
        output.contains("the Tenant CRD is not installed"),
        "{output}"
    );
    assert!(
        output.contains("cargo run -p tenant-operator -- crd | kubectl apply -f -"),
        "{output}"
    );
}

/// `kubectl <args>` against `kubeconfig`; its output when it succeeds.
async fn kubectl(kubeconfig: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--request-timeout=5s")
        .args(args)
        .output()
        .await
        .expect("kubectl must be installed for this test");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Polls `kubectl <args>` until its output is `wanted`.
async fn kubectl_until(kubeconfig: &Path, args: &[&str], wanted: &str) {
    let what = format!("kubectl {} to print {wanted:?}", args.join(" "));
    eventually(&what, || async {
        kubectl(kubeconfig, args)
            .await
            .filter(|out| out == wanted)
            .map(drop)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cluster_it_runs_embedded_and_kubectl_sees_both_controllers_work() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = home.path().join("out/tenant.kubeconfig");
    let child = tenant_operator(home.path())
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .spawn()
        .expect("tenant-operator starts");
    eventually("the embedded kubeconfig", || async {
        kubeconfig.exists().then_some(())
    })
    .await;

    // The sample Tenant: its own cpu and memory, the pod count from tenant-defaults.
    let hard = ["get", "resourcequota", "tenant-quota", "-n", "acme-dev"];
    let hard_json = [&hard[..], &["-o", "jsonpath={.spec.hard}"]].concat();
    kubectl_until(
        &kubeconfig,
        &hard_json,
        r#"{"cpu":"4","memory":"8Gi","pods":"20"}"#,
    )
    .await;
    let ready = [
        "get",
        "tenant",
        "acme",
        "-o",
        "jsonpath={.status.readyNamespaces}",
    ];
    kubectl_until(&kubeconfig, &ready, "2").await;
    // The decorator: the sample namespace labelled for isolation has its policy.
    let deny = [
        "get",
        "networkpolicy",
        "default-deny-ingress",
        "-n",
        "sandbox",
        "-o",
        "name",
    ];
    kubectl_until(
        &kubeconfig,
        &deny,
        "networkpolicy.networking.k8s.io/default-deny-ingress\n",
    )
    .await;

    // Editing the defaults reaches the tenant's quotas.
    let patched = kubectl(
        &kubeconfig,
        &[
            "patch",
            "configmap",
            "tenant-defaults",
            "-n",
            "default",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"pods":"30"}}"#,
        ],
    )
    .await;
    assert!(patched.is_some(), "kubectl patch succeeds");
    kubectl_until(
        &kubeconfig,
        &hard_json,
        r#"{"cpu":"4","memory":"8Gi","pods":"30"}"#,
    )
    .await;
    // Removing the label removes the policy.
    let unlabelled = kubectl(
        &kubeconfig,
        &[
            "label",
            "namespace",
            "sandbox",
            "examples.roperator.io/isolate-",
        ],
    )
    .await;
    assert!(unlabelled.is_some(), "kubectl label succeeds");
    eventually("the policy of sandbox to go", || async {
        let policies = kubectl(
            &kubeconfig,
            &["get", "networkpolicies", "-n", "sandbox", "-o", "name"],
        )
        .await?;
        policies.is_empty().then_some(())
    })
    .await;

    let child_output = terminate(child).await;
    let (status, output) = child_output;
    assert!(
        status.success(),
        "clean exit after SIGTERM, got {status}:\n{output}"
    );
    assert!(
        output.contains("no Kubernetes cluster is configured"),
        "{output}"
    );
    assert!(
        output.contains(&format!(
            "kubectl --kubeconfig {} get tenants,namespaces,resourcequotas,networkpolicies -A",
            kubeconfig.display()
        )),
        "prints the kubectl line:\n{output}"
    );
    assert!(!output.contains('\x1b'), "no colour in piped output");
    assert!(!kubeconfig.exists(), "the kubeconfig is removed on exit");
}
