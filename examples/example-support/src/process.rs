//! Running an example's binary in a test: stopping it as Kubernetes does, and collecting what
//! it printed.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// The binary `bin` with a clean environment: no in-cluster variables, no kubeconfig of the
/// user's (`HOME` is `home`, `KUBECONFIG` names a file that does not exist), `info` logs with
/// no colour forced, output captured, killed if the test drops it. Add the binary's own
/// variables to it.
pub fn command(bin: &str, home: &Path) -> Command {
    let mut command = Command::new(bin);
    command
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        // Logs must carry no colour into a pipe without help from NO_COLOR.
        .env_remove("NO_COLOR")
        .env("HOME", home)
        .env("KUBECONFIG", home.join("no-such-kubeconfig"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Sends SIGTERM (what Kubernetes sends to stop a pod) and returns the exit status and
/// everything the process printed.
pub async fn terminate(child: Child) -> (std::process::ExitStatus, String) {
    let pid = child.id().expect("the child is running").to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().await;
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    finish(child).await
}

/// Waits (30 s at most) for the process to exit, and returns its exit status and everything it
/// printed on stdout then stderr.
pub async fn finish(child: Child) -> (std::process::ExitStatus, String) {
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the process exits within 30 s")
        .expect("the process's output is readable");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status, text)
}
