//! The `echo-server` binary as users run it: the `crd` subcommand, and the choice between a
//! cluster and the embedded mode. A testkit API server listening on loopback plays the cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use echo_server::{EchoServer, EchoServerSpec};
use example_support::process::{self, finish, terminate};
use example_support::wait::{eventually, exists, until};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use roperator_testkit::ApiServer;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_echo-server");

/// The binary with a clean environment: no in-cluster variables, no kubeconfig of the user's.
fn echo_server(home: &Path) -> Command {
    let mut command = process::command(BIN, home);
    command
        .env_remove("ECHO_NAMESPACE")
        .env_remove("ECHO_EMBEDDED")
        .env("ECHO_METRICS_ADDRESS", "127.0.0.1:0");
    command
}

#[tokio::test]
async fn the_crd_subcommand_prints_what_deploy_holds() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let output = echo_server(home.path())
        .arg("crd")
        .output()
        .await
        .expect("runs");
    assert!(output.status.success());
    let on_disk = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/crd.yaml"
    ))
    .expect("deploy/crd.yaml");
    assert_eq!(String::from_utf8_lossy(&output.stdout), on_disk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_against_the_cluster_of_the_kubeconfig() {
    let server = ApiServer::new();
    server.register_crd(&echo_server::crd()).expect("CRD");
    let listening = server.listen().await;
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = home.path().join("kubeconfig");
    listening.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let embedded_kubeconfig = home.path().join("embedded.kubeconfig");

    let child = echo_server(home.path())
        .env("KUBECONFIG", &kubeconfig)
        .arg("--kubeconfig-out")
        .arg(&embedded_kubeconfig)
        .spawn()
        .expect("echo-server starts");

    let echoes: Api<EchoServer> = Api::namespaced(server.client(), "default");
    echoes
        .create(
            &PostParams::default(),
            &EchoServer::new("cli", EchoServerSpec::new("from the cli test")),
        )
        .await
        .expect("create");
    let deployments: Api<Deployment> = Api::namespaced(server.client(), "default");
    exists("the operator to create the Deployment", &deployments, "cli").await;
    assert!(
        !embedded_kubeconfig.exists(),
        "with a cluster, no embedded server is started"
    );

    let (status, output) = terminate(child).await;
    assert!(
        status.success(),
        "clean exit after SIGTERM, got {status}:\n{output}"
    );
    assert!(
        output.contains("running against the Kubernetes cluster"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_the_crd_is_refused_with_instructions() {
    let server = ApiServer::new();
    let listening = server.listen().await;
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = home.path().join("kubeconfig");
    listening.write_kubeconfig(&kubeconfig).expect("kubeconfig");

    let child = echo_server(home.path())
        .env("KUBECONFIG", &kubeconfig)
        .spawn()
        .expect("echo-server starts");
    let (status, output) = finish(child).await;
    assert!(!status.success(), "must fail without the CRD:\n{output}");
    assert!(
        output.contains("EchoServer CRD is not installed"),
        "{output}"
    );
    assert!(
        output.contains("cargo run -p echo-server -- crd | kubectl apply -f -"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cluster_it_starts_embedded_and_cleans_up_on_sigterm() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = home.path().join("out/echo.kubeconfig");
    let child = echo_server(home.path())
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .spawn()
        .expect("echo-server starts");
    eventually("the embedded kubeconfig", || async {
        kubeconfig.exists().then_some(())
    })
    .await;

    let (status, output) = terminate(child).await;
    assert!(
        status.success(),
        "clean exit after SIGTERM, got {status}:\n{output}"
    );
    assert!(
        output.contains("no Kubernetes cluster is configured"),
        "{output}"
    );
    assert_no_colour(&output);
    assert!(
        output.contains(&format!(
            "kubectl --kubeconfig {} get echoservers",
            kubeconfig.display()
        )),
        "prints the kubectl line:\n{output}"
    );
    assert!(!kubeconfig.exists(), "the kubeconfig is removed on exit");
}

/// Logs read by a program (a file, a pipe, `kubectl logs`) carry no terminal escape codes.
fn assert_no_colour(output: &str) {
    assert!(
        !output.contains('\x1b'),
        "escape codes in piped output:\n{output:?}"
    );
}

/// A kubeconfig for the API server at `url`, trusting the certificate authority in `ca` (PEM).
fn write_kubeconfig(dir: &Path, url: &str, ca: Option<&str>) -> std::path::PathBuf {
    let ca = match ca {
        Some(pem) => {
            let file = dir.join("ca.pem");
            std::fs::write(&file, pem).expect("the CA file is written");
            format!("    certificate-authority: {}\n", file.display())
        }
        None => String::new(),
    };
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {url}\n{ca}\
         users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: ctx\n  context:\n    \
         cluster: c\n    user: u\ncurrent-context: ctx\n"
    );
    std::fs::write(&path, text).expect("the kubeconfig is written");
    path
}

/// Runs the operator with the kubeconfig at `kubeconfig`, expecting it to refuse to start, and
/// returns what it printed. It must not have fallen back to the in-memory server.
async fn refused_start(home: &Path, kubeconfig: &Path) -> String {
    let embedded_kubeconfig = home.join("embedded.kubeconfig");
    let child = echo_server(home)
        .env("KUBECONFIG", kubeconfig)
        .arg("--kubeconfig-out")
        .arg(&embedded_kubeconfig)
        .spawn()
        .expect("echo-server starts");
    let (status, output) = finish(child).await;
    assert!(!status.success(), "must fail:\n{output}");
    assert!(
        !output.contains("in-memory Kubernetes API server started")
            && !output.contains("See what the operator does"),
        "a configured cluster never falls back to the in-memory one:\n{output}"
    );
    assert!(!embedded_kubeconfig.exists(), "no embedded kubeconfig");
    assert!(
        output.contains("pass --embedded to run against an in-memory API server"),
        "says how to run embedded on purpose:\n{output}"
    );
    assert_no_colour(&output);
    output
}

#[tokio::test]
async fn a_configured_cluster_that_refuses_connections_is_an_error_not_a_fallback() {
    let port = free_port();
    let home = tempfile::tempdir().expect("a temporary directory");
    let url = format!("https://127.0.0.1:{port}");
    let kubeconfig = write_kubeconfig(home.path(), &url, None);

    let output = refused_start(home.path(), &kubeconfig).await;
    assert!(
        output.contains(&format!("Kubernetes API server at {url}")),
        "names the server:\n{output}"
    );
    assert!(output.contains("Connection refused"), "says why:\n{output}");
    assert!(
        output.contains(&kubeconfig.display().to_string()),
        "names the kubeconfig:\n{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_cluster_with_an_untrusted_certificate_is_an_error_not_a_fallback() {
    let server = ApiServer::new();
    server.register_crd(&echo_server::crd()).expect("CRD");
    let listening = server.listen_tls().await;
    let home = tempfile::tempdir().expect("a temporary directory");
    // A certificate authority of its own, which did not sign the server's certificate.
    let other_ca = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
        .expect("a self-signed certificate");
    let kubeconfig = write_kubeconfig(home.path(), &listening.url(), Some(&other_ca.cert.pem()));

    let output = refused_start(home.path(), &kubeconfig).await;
    assert!(
        output.contains(&format!("Kubernetes API server at {}", listening.url())),
        "names the server:\n{output}"
    );
    assert!(
        output.contains("invalid peer certificate"),
        "says the certificate is not trusted:\n{output}"
    );
    assert!(
        server.requests().records().is_empty(),
        "no request got through"
    );
}

#[tokio::test]
async fn a_kubeconfig_that_cannot_be_read_is_an_error_not_a_fallback() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(&kubeconfig, "clusters: [unclosed").expect("written");

    let output = refused_start(home.path(), &kubeconfig).await;
    assert!(
        output.contains(&format!(
            "cannot use the kubeconfig {}",
            kubeconfig.display()
        )),
        "names the kubeconfig:\n{output}"
    );
}

/// A server that answers every request with 401, as an API server does to a stale token.
async fn refuse_credentials() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;
        let response = format!(
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: \
             {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            // The request has no body: its head is all there is to read.
            let _ = stream.read(&mut request).await;
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    url
}

#[tokio::test]
async fn a_configured_cluster_that_refuses_the_credentials_is_an_error_not_a_fallback() {
    let url = refuse_credentials().await;
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = write_kubeconfig(home.path(), &url, None);

    let output = refused_start(home.path(), &kubeconfig).await;
    assert!(
        output.contains(&format!("Kubernetes API server at {url}")),
        "names the server:\n{output}"
    );
    assert!(
        output.contains("HTTP 401") && output.contains("credentials were not accepted"),
        "says the credentials were refused:\n{output}"
    );
}

/// Replicas of a write that the engine made, by the `(replica …)` part of its user agent.
fn writing_replicas(server: &ApiServer, after: usize) -> BTreeSet<String> {
    server
        .requests()
        .writes()
        .into_iter()
        .skip(after)
        .filter(|r| r.user_agent.starts_with("echo-server/"))
        .filter_map(|r| {
            let (_, replica) = r.user_agent.split_once("(replica ")?;
            Some(replica.trim_end_matches(')').to_string())
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Three processes as deploy/ runs them (under Raft, here over loopback in plain text): one
/// replica writes; when it is killed, another takes over and carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_elect_one_writer_and_fail_over() {
    let server = ApiServer::new();
    server.register_crd(&echo_server::crd()).expect("CRD");
    server.simulate_workloads(true);
    let listening = server.listen().await;
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = home.path().join("kubeconfig");
    listening.write_kubeconfig(&kubeconfig).expect("kubeconfig");

    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let peers = ports
        .iter()
        .enumerate()
        .map(|(id, port)| format!("{id}=127.0.0.1:{port}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut replicas: BTreeMap<String, Child> = BTreeMap::new();
    for (id, port) in ports.iter().enumerate() {
        let child = echo_server(home.path())
            .env("KUBECONFIG", &kubeconfig)
            .env("ROPERATOR_RAFT_PEERS", &peers)
            .env("ROPERATOR_RAFT_NODE_ID", id.to_string())
            .env("ROPERATOR_RAFT_PORT", port.to_string())
            .env("ROPERATOR_RAFT_INSECURE_PLAINTEXT", "true")
            .env(
                "ROPERATOR_RAFT_DATA_DIR",
                home.path().join(format!("raft-{id}")),
            )
            .spawn()
            .expect("echo-server starts");
        replicas.insert(format!("node-{id}"), child);
    }

    let echoes: Api<EchoServer> = Api::namespaced(server.client(), "default");
    let deployments: Api<Deployment> = Api::namespaced(server.client(), "default");
    echoes
        .create(
            &PostParams::default(),
            &EchoServer::new("hello", EchoServerSpec::new("one")),
        )
        .await
        .expect("EchoServer created");
    let args_say = |text: &'static str| {
        move |deployment: Option<&Deployment>| {
            let args = deployment
                .and_then(|d| d.spec.template.spec.as_ref())
                .and_then(|pod| pod.containers.first()?.args.as_ref());
            args.is_some_and(|args| args.contains(&format!("-text={text}")))
        }
    };
    until(
        "the first leader's Deployment",
        &deployments,
        "hello",
        args_say("one"),
    )
    .await;
    // Converged (the status is the sync's last write) before the kill: a write the leader sent
    // just before dying can reach the server after it, and would count as written after death.
    until("status Ready", &echoes, "hello", |e| {
        let status = e.and_then(|e| e.status.as_ref());
        status.is_some_and(|s| s.phase == echo_server::Phase::Ready)
    })
    .await;
    let writers = writing_replicas(&server, 0);
    assert_eq!(writers.len(), 1, "exactly one replica writes: {writers:?}");
    let leader = writers.into_iter().next().expect("one writer");

    let killed = replicas.remove(&leader).expect("the leader is one of ours");
    let pid = killed.id().expect("running").to_string();
    let status = Command::new("kill").args(["-KILL", &pid]).status().await;
    assert!(status.is_ok_and(|s| s.success()), "kill -KILL {pid}");
    finish(killed).await;
    let before_failover = server.requests().writes().len();

    let mut echo = echoes.get("hello").await.expect("EchoServer");
    echo.spec.message = Some("two".to_string());
    echo.metadata.managed_fields = None;
    echoes
        .replace("hello", &PostParams::default(), &echo)
        .await
        .expect("message changed");
    until(
        "the new leader's update",
        &deployments,
        "hello",
        args_say("two"),
    )
    .await;
    // The request log records a write once its response is ready, a moment after watchers see
    // its effect.
    let new_writers = eventually("the new leader's writes in the request log", || async {
        let writers = writing_replicas(&server, before_failover);
        (!writers.is_empty()).then_some(writers)
    })
    .await;
    assert_eq!(new_writers.len(), 1, "one new writer: {new_writers:?}");
    assert!(
        !new_writers.contains(&leader),
        "the killed leader {leader} wrote after its death"
    );

    for (name, child) in replicas {
        let (status, output) = terminate(child).await;
        assert!(
            status.success(),
            "{name} exits cleanly on SIGTERM:\n{output}"
        );
    }
}

/// What `echo-server raft members` printed, as far as the test needs it.
#[derive(Debug, PartialEq)]
struct Listing {
    /// The leader named on the first line.
    leader: Option<usize>,
    /// The node asked could not forward to the leader, and answered with its own view.
    own_view: bool,
    /// The lines under `voters:` and `learners:` (`<id>  <address>`, without the leader mark).
    voters: BTreeSet<String>,
    learners: BTreeSet<String>,
}

impl Listing {
    fn parse(text: &str) -> Self {
        let leader = text
            .strip_prefix("leader: node ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|id| id.parse().ok());
        let mut listing = Self {
            leader,
            own_view: text.contains("which could not ask the leader"),
            voters: BTreeSet::new(),
            learners: BTreeSet::new(),
        };
        let mut section = None;
        for line in text.lines() {
            match line {
                "voters:" => section = Some(&mut listing.voters),
                "learners:" => section = Some(&mut listing.learners),
                "  (none)" => {}
                member if member.starts_with("  ") => {
                    if let Some(nodes) = section.as_mut() {
                        let member = member.trim().trim_end_matches("(leader)").trim_end();
                        nodes.insert(member.split_whitespace().collect::<Vec<_>>().join("  "));
                    }
                }
                _ => {}
            }
        }
        listing
    }
}

/// Replicas under Raft over loopback in plain text, with the environment of a replica's pod (the
/// `raft` subcommands read the same, as `kubectl exec` does).
struct RaftGroup {
    home: std::path::PathBuf,
    ports: Vec<u16>,
}

impl RaftGroup {
    fn command(&self, id: usize) -> Command {
        let peers = self
            .ports
            .iter()
            .enumerate()
            .map(|(id, port)| format!("{id}=127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut command = echo_server(&self.home);
        command
            .env("ROPERATOR_RAFT_PEERS", peers)
            .env("ROPERATOR_RAFT_NODE_ID", id.to_string())
            .env("ROPERATOR_RAFT_PORT", self.ports[id].to_string())
            .env("ROPERATOR_RAFT_INSECURE_PLAINTEXT", "true")
            .env(
                "ROPERATOR_RAFT_DATA_DIR",
                self.home.join(format!("raft-{id}")),
            );
        command
    }

    /// `echo-server raft <args>` run with node `id`'s settings: its status, stdout and stderr.
    async fn raft(&self, id: usize, args: &str) -> (std::process::ExitStatus, String, String) {
        let mut command = self.command(id);
        command.arg("raft").args(args.split_whitespace());
        let output = command.output().await.expect("echo-server raft runs");
        (
            output.status,
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// `<id>  127.0.0.1:<port>`, as a listing shows node `id`.
    fn member(&self, id: usize) -> String {
        format!("{id}  127.0.0.1:{}", self.ports[id])
    }

    /// Waits until each of `asked` knows the same leader and reaches it (so that a request to
    /// any of them is forwarded, not refused with "knows no leader"), and the leader's
    /// membership is exactly `voters`, with no learner left: an election or a membership change
    /// still going on shows as a listing that does not match yet. Returns the leader's id.
    async fn settled(&self, asked: &[usize], voters: &[usize]) -> usize {
        let voters: BTreeSet<String> = voters.iter().map(|id| self.member(*id)).collect();
        let what = format!("nodes {asked:?} to agree on a leader, with voters {voters:?}");
        eventually(&what, || async {
            let mut leaders = BTreeSet::new();
            for id in asked {
                let (status, out, _) = self.raft(*id, "members").await;
                let listing = Listing::parse(&out);
                let settled = status.success()
                    && !listing.own_view
                    && listing.voters == voters
                    && listing.learners.is_empty();
                if !settled {
                    return None;
                }
                leaders.insert(listing.leader?);
            }
            let mut leaders = leaders.into_iter();
            match (leaders.next(), leaders.next()) {
                (Some(leader), None) => Some(leader),
                _ => None,
            }
        })
        .await
    }
}

#[test]
fn a_members_listing_parses() {
    let listing = Listing::parse(
        "leader: node 1 (term 3)\nvoters:\n    0  127.0.0.1:7000\n    1  127.0.0.1:7001  \
         (leader)\nlearners:\n  (none)\n",
    );
    assert_eq!(
        listing,
        Listing {
            leader: Some(1),
            own_view: false,
            voters: BTreeSet::from(["0  127.0.0.1:7000".into(), "1  127.0.0.1:7001".into()]),
            learners: BTreeSet::new(),
        }
    );
    let alone = Listing::parse(
        "leader: none known (term 0)\n(as seen by node 2, which could not ask the leader)\n\
         voters:\n    2  127.0.0.1:7002\nlearners:\n    3  127.0.0.1:7003\n",
    );
    assert_eq!((alone.leader, alone.own_view), (None, true));
    assert_eq!(alone.learners, BTreeSet::from(["3  127.0.0.1:7003".into()]));
}

/// `echo-server raft ...` as the guide runs it in a pod: with a replica's own settings, against
/// that replica (a follower forwards to the leader), human-readable, non-zero on failure. Before
/// each step the test waits until the nodes it asks know the leader and the previous change is
/// in place: an election or a commit still in flight would make the step fail for the wrong
/// reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raft_subcommands_list_remove_and_add_members() {
    let server = ApiServer::new();
    server.register_crd(&echo_server::crd()).expect("CRD");
    let listening = server.listen().await;
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = home.path().join("kubeconfig");
    listening.write_kubeconfig(&kubeconfig).expect("kubeconfig");

    let group = RaftGroup {
        home: home.path().to_path_buf(),
        ports: (0..3).map(|_| free_port()).collect(),
    };
    let mut replicas = Vec::new();
    for id in 0..3 {
        let mut command = group.command(id);
        command.env("KUBECONFIG", &kubeconfig);
        replicas.push(command.spawn().expect("echo-server starts"));
    }

    let leader = group.settled(&[0, 1, 2], &[0, 1, 2]).await;
    let follower = (leader + 1) % 3;
    let other = (leader + 2) % 3;
    // A follower's listing is the leader's, with every voter and its address.
    let (status, listing, err) = group.raft(follower, "members").await;
    assert!(status.success(), "{listing}{err}");
    assert!(
        listing.starts_with(&format!("leader: node {leader} (term ")),
        "{listing}"
    );
    for id in 0..3 {
        assert!(listing.contains(&group.member(id)), "{listing}");
    }

    let (status, out, err) = group
        .raft(follower, &format!("remove-member --id {other}"))
        .await;
    assert!(status.success(), "{out}{err}");
    assert!(out.contains(&format!("removed node {other}")), "{out}");
    assert!(
        !out.contains(&format!("127.0.0.1:{}", group.ports[other])),
        "{out}"
    );

    // Its address comes from ROPERATOR_RAFT_PEERS; the replica still runs, so it catches up.
    let remaining = [leader, follower];
    let leader = group.settled(&remaining, &remaining).await;
    let follower = remaining
        .into_iter()
        .find(|id| *id != leader)
        .expect("two voters remain");
    let (status, out, err) = group
        .raft(follower, &format!("add-member --id {other}"))
        .await;
    assert!(status.success(), "{out}{err}");
    assert!(
        out.contains(&format!(
            "added node {other} at 127.0.0.1:{}",
            group.ports[other]
        )),
        "{out}"
    );

    let leader = group.settled(&[0, 1, 2], &[0, 1, 2]).await;
    let follower = (leader + 1) % 3;
    let (status, out, err) = group.raft(follower, "remove-member --id 7").await;
    assert!(!status.success(), "removing a stranger fails:\n{out}{err}");
    assert!(err.contains("node 7 is not a member"), "{err}");

    for child in replicas {
        let (status, output) = terminate(child).await;
        assert!(status.success(), "clean exit on SIGTERM:\n{output}");
    }
}
