//! The embedded cluster is usable with plain kubectl: the CRD is served, the sample is there.

use std::process::Command;

use echo_server::embedded::EmbeddedCluster;

fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl must be installed for this test");
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("kubectl prints UTF-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_sees_the_crd_and_the_sample_through_the_written_kubeconfig() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("nested/echo.kubeconfig");
    let cluster = EmbeddedCluster::start(&path)
        .await
        .expect("the embedded cluster starts");
    assert!(
        path.exists(),
        "the kubeconfig is written, creating its directory"
    );
    assert!(cluster.kubectl_hint().contains(&path.display().to_string()));
    let sample = cluster.apply_sample().await.expect("the sample applies");
    assert_eq!(sample.spec.replicas, 2);

    // kubectl is blocking; run it off the runtime that serves it.
    let kubeconfig = path.clone();
    let (crds, message) = tokio::task::spawn_blocking(move || {
        (
            kubectl(&kubeconfig, &["get", "crd", "-o", "name"]),
            kubectl(
                &kubeconfig,
                &[
                    "get",
                    "echo",
                    "hello",
                    "-n",
                    "default",
                    "-o",
                    "jsonpath={.spec.message}",
                ],
            ),
        )
    })
    .await
    .expect("kubectl ran");
    assert!(crds.contains("echoservers.examples.roperator.io"), "{crds}");
    assert_eq!(message, "hello from roperator");

    drop(cluster);
    assert!(!path.exists(), "the kubeconfig is removed with the cluster");
}
