//! Kubernetes in a box: an in-memory API server that speaks the real Kubernetes HTTP API.
//!
//! The same server is reached two ways: in-process, as a tower `Service` behind
//! [`ApiServer::client`] (what operator tests use), and over a loopback TCP port
//! ([`ApiServer::listen`], [`ApiServer::listen_tls`], or the `roperator-testkit serve` binary)
//! for `kubectl` and other clients.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube::api::{Api, PostParams};
//! use roperator_testkit::{ApiServer, FaultRule, assert_json_include, fixtures};
//!
//! let server = ApiServer::new();
//! let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
//! cms.create(&PostParams::default(), &fixtures::configmap("settings", [("mode", "fast")])).await?;
//! assert_json_include!(
//!     actual: server.object("v1", "ConfigMap", Some("default"), "settings").unwrap(),
//!     expected: serde_json::json!({"data": {"mode": "fast"}})
//! );
//! // The next write fails the way an overloaded server would.
//! server.faults().add(FaultRule::new().verb("create").status(429).retry_after(1).every(1));
//! assert!(cms.create(&PostParams::default(), &fixtures::configmap("other", [])).await.is_err());
//! assert_eq!(server.requests().writes().len(), 2);
//! # Ok(()) }
//! ```
//!
//! # When an offline test can be trusted
//!
//! ## Faithful (behaves as kube-apiserver does, checked by this crate's tests)
//! - Paths, verbs and bodies of the JSON API: `/api/v1/...`, `/apis/{group}/{version}/...`,
//!   namespaced and cluster-scoped types, `metav1.Status` errors with the real `reason`, `code`
//!   and `details` (NotFound, AlreadyExists, Conflict, Invalid with causes, BadRequest,
//!   MethodNotAllowed, UnsupportedMediaType, Forbidden for terminating namespaces, Gone);
//!   several Invalid causes print as `[a, b]` in the message, `details` leaves out an empty
//!   `group` (core types) as `omitempty` does, and an apply patch without `fieldManager` is a
//!   `422` on `PatchOptions.meta.k8s.io`.
//! - Paths and methods nothing serves, answered by the part of the real server's handler chain
//!   that would get them: under an unknown group, or a CRD group's unknown resource, unserved
//!   version or wrong scope, Go's NotFound handler's plain-text `404 page not found`
//!   (`text/plain`; kube-rs reports it as an `Error::Api` with code 404, kubectl as
//!   `NotFound`); under `/api` or a built-in group, the router's JSON `404` (`the server could
//!   not find the requested resource`, empty `details`); a method the path has no route for,
//!   the router's `405` (`the server does not allow this method on the requested resource`) —
//!   namespaces have no `deletecollection` (nor in discovery or OpenAPI), a namespaced type's
//!   cluster-wide path serves only list and watch, `status` and `scale` only get, update and
//!   patch (a custom resource's subresource answers `<verb> is not supported on resources of
//!   kind ...`, and its unknown subresources a NotFound naming the object).
//! - Metadata-only reads (`Accept: application/json;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`,
//!   kube's `get_metadata`, `list_metadata` and `metadata_watcher`): gets, lists and watch events
//!   answer `meta.k8s.io/v1` `PartialObjectMetadata(List)`; the wrong form for the path is a
//!   `406 NotAcceptable` in upstream's words.
//! - Lists: `apiVersion` and `kind` on the list, not on the items of a built-in list (the real
//!   server leaves them out, kubernetes/kubernetes#3030); custom objects keep theirs.
//! - Discovery (`/version`, `/api`, `/api/v1`, `/apis`, `/apis/{g}`, `/apis/{g}/{v}` with kinds,
//!   verbs, short names, categories, singular names, `storageVersionHash` and subresources, in
//!   the real server's order; `tests/discovery.rs` compares every served entry with the
//!   recorded documents of a real v1.32 server) and the
//!   OpenAPI v2/v3 documents (see [`openapi`]).
//! - Built-in types at their current versions (Namespace, Node, PersistentVolume, Pod,
//!   PodTemplate, Service, Endpoints, ConfigMap, Secret, ServiceAccount, Event in `v1` and
//!   `events.k8s.io/v1`, PersistentVolumeClaim, ResourceQuota, LimitRange, Deployment,
//!   ReplicaSet, StatefulSet, DaemonSet, ControllerRevision, Job, CronJob,
//!   HorizontalPodAutoscaler (`autoscaling/v2`), Ingress, IngressClass, NetworkPolicy,
//!   EndpointSlice, PodDisruptionBudget, Role, RoleBinding, ClusterRole, ClusterRoleBinding,
//!   Lease, PriorityClass, StorageClass, Mutating- and ValidatingWebhookConfiguration,
//!   CustomResourceDefinition); a
//!   built-in body that does not decode into its k8s-openapi type is
//!   a `400 BadRequest` in the decoder's words: Go `encoding/json`'s syntax errors (`invalid
//!   character '}' looking for beginning of object key string`, `unexpected end of JSON
//!   input`) inside `the object provided is unrecognized (must be of type <Kind>): couldn't get
//!   version/kind; json parse error: ... (<the body's first 30 bytes>)`, and a value of the
//!   wrong JSON type as `json: cannot unmarshal <kind> into Go struct field <Struct>.<path> of
//!   type <Go type>`. A body sent as other than JSON, YAML or protobuf is a `415`. A built-in body without `apiVersion`/`kind` takes them from the path
//!   (the Python client sends none); a custom object without them is refused
//!   (`Object 'Kind' is missing in ...`), as the real decoders do.
//! - Core `v1` and `events.k8s.io/v1` Events are one resource served at two versions, as
//!   upstream stores them: an event a kube-rs `Recorder` writes is listed by `kubectl get
//!   events` and core `Api<Event>` (`note` <-> `message`, `regarding` <-> `involvedObject`,
//!   `reportingController` <-> `reportingComponent`, `deprecatedSource`/`deprecatedCount`/
//!   `deprecated*Timestamp` <-> `source`/`count`/`*Timestamp`; the other fields share names)
//!   on reads, writes, patches and watches, field selectors take each version's own labels
//!   (`regarding.name` on events.k8s.io/v1), and `kubectl get events` prints the upstream event
//!   printer's columns.
//! - Protobuf request bodies (`application/vnd.kubernetes.protobuf`), as kubectl's typed
//!   generators (`kubectl create configmap|secret|deployment|service|job|namespace ...`,
//!   `kubectl run`, `kubectl expose`) and client-go's typed clients send them, for every built-in
//!   type served, for their delete options and for `autoscaling/v1` Scales: read through the
//!   upstream field numbers (from `generated.proto`, via the k8s-pb crate;
//!   `scripts/protobuf_fields.py`) into the object the same request in JSON would have created.
//!   Answers are JSON, which those clients accept. Custom resources get the real server's
//!   `415 Unsupported Media Type` (they are served in JSON and YAML only).
//! - Clients checked end to end: kube-rs, kubectl 1.32, and the official Python `kubernetes`
//!   client (list, create, watch over HTTP and TLS; `tests/python_client.rs`, run with
//!   `ROPERATOR_PYTHON_CLIENT_TESTS=1` and `ROPERATOR_PYTHON` set to what `.ci/python-client`
//!   prints).
//! - CRDs: creating one serves its kinds at once (scope, served versions, `status` subresource,
//!   short names, `Established` condition), deleting one removes its objects and stops serving
//!   them; `status.storedVersions` gains each storage version, is set only by `/status` writes,
//!   and keeps a version in `spec.versions` until it is retired there; custom objects are pruned, defaulted and validated against `openAPIV3Schema` (see
//!   [`schema`] for the keywords modelled).
//! - Defaulting of built-in objects as kube-apiserver v1.32 does it, on create, update, every
//!   patch flavour, server-side apply and `/status` writes, before the field manager records
//!   the write (so, as upstream, an `Update` manager owns the defaults its write produced and an
//!   applier owns only what it applied), visible in responses, gets, lists and watches, and
//!   never a change of `generation` by itself (re-sending an object without its defaults is a
//!   no-op). The data comes from two places, both keyed by the struct they apply to wherever it
//!   is nested: the `default` of every property in the real server's `/openapi/v3` documents
//!   (declarative defaults such as a port's `protocol: TCP`, and the Go zero values always
//!   serialized, such as `resources: {}` or a PodDisruptionBudget's `status.currentHealthy: 0`;
//!   table generated by `scripts/openapi_defaults.py`), and one function per upstream
//!   `SetDefaults_<Type>` of `pkg/apis/{core,apps,batch,networking,rbac,autoscaling,scheduling,
//!   storage,discovery,admissionregistration}/*/defaults.go` and apiextensions' (image pull
//!   policy by tag, strategies, history limits, Job
//!   completions/parallelism/backoff, CronJob policies, Service type/affinity/ports/traffic
//!   policies, probes, volume modes, LimitRange defaults, NetworkPolicy types, RBAC API groups,
//!   HPA metrics and behavior, CRD names and conversion). Secrets get `type: Opaque` and their
//!   `stringData` folded into base64 `data`, never stored. What Go's encoder leaves out is left
//!   out (nulls, empty maps and optional lists: `labels: {}` does not come back), and what it
//!   always writes is written (a template's `creationTimestamp: null`, a role's `rules: null`,
//!   a condition's unset `lastTransitionTime: null`, a resource field's `divisor: "0"`).
//! - What the cluster's own controllers keep in place, written in the request that calls for
//!   it: every namespace holds the `default` ServiceAccount and the `kube-root-ca.crt`
//!   ConfigMap (holding the certificate a TLS listener serves; both come back when deleted),
//!   and `default` holds the API server's `kubernetes` Service at the first address of the
//!   service range (port 443 to 6443). Lists of a namespace's ConfigMaps include
//!   `kube-root-ca.crt`, as on a real cluster.
//! - The strategies' own additions: a Job's generated selector and `controller-uid`/`job-name`
//!   labels (from its uid), a DaemonSet's `deprecated.daemonset.template.generation`, a Pod's
//!   `status` (phase `Pending`, QoS class from its resources), a Namespace's `kubernetes`
//!   finalizer and `kubernetes.io/metadata.name` label; and the default mutating admission
//!   plugins: a Pod's service account and `kube-api-access-*` token volume (`ServiceAccount`;
//!   an account that does not exist is a `403`),
//!   not-ready/unreachable tolerations (`DefaultTolerationSeconds`), `priority` and
//!   `preemptionPolicy` from the cluster's PriorityClasses (`Priority`: the named class or the
//!   `globalDefault` one; an unknown class, or a value that disagrees, is a `403`; the two
//!   `system-*` classes exist from the start, cannot be deleted, and the `system-` prefix is
//!   theirs; a second `globalDefault` class is a `403`; user values stop at a billion and never
//!   change), and a claim's
//!   `kubernetes.io/pvc-protection` finalizer. `tests/real_responses.rs` sends the 32 creates
//!   recorded from a real server (`tests/data/`) and gets the recorded bodies back, allocated
//!   values aside.
//! - Service allocation, as the Service storage does it: `clusterIP`/`clusterIPs` from the
//!   service range ([`ApiServerBuilder::service_cluster_ip_range`], `10.96.0.0/12` by default,
//!   its first address held for the `kubernetes` Service) and `ipFamilies`/`ipFamilyPolicy`
//!   (single-stack IPv4; a headless Service without selector is `RequireDualStack`),
//!   `nodePort`s for NodePort and LoadBalancer ports and a `healthCheckNodePort` for
//!   `externalTrafficPolicy: Local` from the node port range
//!   ([`ApiServerBuilder::service_node_port_range`], 30000-32767), chosen at random like
//!   upstream (upper part of the range first). An address or port is refused when taken or out
//!   of range (`422` on `spec.clusterIPs` / `spec.ports[i].nodePort` with the allocator's
//!   message), kept when an update leaves it out, dropped with the type that needed it, and free
//!   again once the Service is gone by any path. `clusterIP: None` is honoured; ExternalName
//!   Services get none.
//! - Validation with the real `422 Invalid` messages and causes (field path, `FieldValue*`
//!   reason): `metadata.name` and `generateName` per kind (DNS-1123 subdomain; label for
//!   Namespaces; DNS-1035 label for Services; path segments for RBAC; 52 characters for
//!   CronJobs), label keys and values, annotation keys and their total size (256 KiB), owner
//!   references (apiVersion, kind, name, uid; one controller), finalizer names (qualified; on
//!   built-in kinds a name without `/` must be `kubernetes`, `orphan` or `foregroundDeletion`,
//!   on custom resources it only earns a `Warning`), ConfigMap and
//!   Secret data keys and total size (1 MiB; decoded bytes for Secrets), the keys of typed
//!   Secrets (`kubernetes.io/tls`...), `immutable` ConfigMaps and Secrets, a Secret's `type`,
//!   Service ports and cluster IP fields, apps/v1 selectors (required, matching the template)
//!   and immutable fields (workload selectors, a StatefulSet's spec beyond its mutable fields, a
//!   Job's selector, template and completion fields, a RoleBinding's `roleRef`, an unbound
//!   claim's spec, a Pod's spec beyond images, deadline and tolerations, a Service's cluster
//!   IPs), pods and every pod template (containers required, named once with DNS labels, with
//!   images; `restartPolicy: Always` for the apps workloads, `OnFailure`/`Never` for Jobs and
//!   CronJobs), non-negative replica and Job counts, StatefulSet names as DNS labels, and CRDs
//!   (name as `<plural>.<group>`, a group with a dot, scope, version names, exactly one storage
//!   version, a schema per version with an object root and typed fields, names). A namespace's
//!   `spec.finalizers` and a DaemonSet's template generation are kept by updates, as their
//!   strategies keep them. Bodies over 3 MiB get `413 RequestEntityTooLarge` (`Request entity too large: limit
//!   is 3145728`) before decoding.
//! - Object metadata: `uid`, `creationTimestamp`, `resourceVersion` from one global counter,
//!   `generation` starting at 1 and bumped only when something outside metadata (and outside
//!   status for types with the subresource) changes, or, for Deployments only, when
//!   `metadata.annotations` change (the upstream Deployment strategy bumps it then) — on the
//!   kinds whose v1.32 strategy keeps a generation (custom resources, workloads, Ingress,
//!   NetworkPolicy, PDBs, CRDs; not Pods, Services, ConfigMaps, Secrets, Namespaces...),
//!   `generateName`, refusal of objects in a missing namespace (`404`) or a terminating one
//!   (`403` from the `NamespaceLifecycle` plugin: details naming the object by resource, a
//!   `NamespaceTerminating` cause on `metadata.namespace`), and of creates that carry a
//!   `resourceVersion` (`500`, as the storage layer answers).
//! - Status details: a failed delete precondition is a `409` naming the kind
//!   (`Operation cannot be fulfilled on ConfigMap "x": the UID in the precondition ...`, details
//!   `kind: ConfigMap`), as `rest.BeforeDelete` builds it; a server-side apply conflict carries
//!   its causes and no name or kind, and names its managers as `printManager` does (`"m"`,
//!   `"m" using v1` for an `Update` owner; several conflicts listed by manager); a JSON patch
//!   that cannot apply gets the generic `422` (`the server rejected our request due to an error
//!   in our request`); a terminating namespace answers a second delete with `409`.
//! - Verbs: create, get, list (label selectors read by a port of upstream's lexer and parser:
//!   `=`, `==`, `!=`, `in`, `notin`, `key`, `!key`, `>` and `<` on integer values, and its
//!   refusals word for word, e.g. `found '=', expected: ',' or 'end of string'`;
//!   field selectors per kind as upstream registers them, with its two wordings of a refusal;
//!   `limit` and `continue` with `remainingItemCount` when nothing is filtered, no paging at
//!   `resourceVersion=0`; `resourceVersionMatch` and `sendInitialEvents` validated as
//!   `ValidateListOptions` does), update (`409` on a stale `resourceVersion`; without one, allowed for the
//!   built-ins whose strategy allows unconditional updates and `422` for custom resources,
//!   Leases and CRDs; an update of a missing Lease, Endpoints, Event or RBAC object creates it
//!   with `201`, other kinds answer `404`), patch (JSON, merge, strategic merge, server-side apply —
//!   see [`patch`] for exactly what of server-side apply is modelled), delete with
//!   `preconditions` and `propagationPolicy` (an object removed at once is answered with a
//!   `Success` Status, except Pods, ServiceAccounts, Services and PersistentVolumeClaims,
//!   whose upstream stores set `ReturnDeletedObject` and answer with the object as last
//!   stored; a Pod is deleted gracefully with a zero period, as for a pod no node runs: its
//!   `deletionTimestamp` and `deletionGracePeriodSeconds: 0` are stored (a MODIFIED event)
//!   before it goes; an object kept by finalizers is answered with itself; a batch/v1 Job deleted
//!   without a policy orphans its Pods, the upstream default for that version, with the same
//!   `Warning` header; `Foreground` and `Orphan` put their finalizer on the object, answer with
//!   it, and the collector then lets it go), deletecollection (every type but Namespace),
//!   `dryRun=All` (in the query or, as kubectl sends it, the DeleteOptions body; other values
//!   are a `422`). Create, update and patch options are validated first, as their handlers do
//!   (`dryRun`, `fieldValidation`, a `fieldManager` of at most 128 bytes, `force` on apply
//!   only, a `fieldManager` for apply: a `422` naming `CreateOptions`, `UpdateOptions` or
//!   `PatchOptions`). An update
//!   that changes nothing does not bump `resourceVersion` and emits no event.
//! - Quantity fields of built-in objects (container `resources` in Pods and every pod template,
//!   pod `overhead`, `emptyDir.sizeLimit`, PVC and `volumeClaimTemplates` requests/limits,
//!   ResourceQuota and LimitRange amounts) are stored in apimachinery's canonical form (`0.5` ->
//!   `500m`, `1024Mi` -> `1Gi`; see [`quantity::canonical`]) and compared in that form, so
//!   re-sending the original spelling is a no-op; a malformed one is a `400 BadRequest` with the
//!   real decoder's message (which, like the real server, names no field).
//! - `fieldValidation` on create, update and patch: `Strict` refuses fields the type does not
//!   declare (`400`, `strict decoding error: unknown field "spec.foo"`), `Warn` (the default, as
//!   on a real server) drops them and sends one `Warning: 299 - "unknown field \"spec.foo\""`
//!   header per field (kubectl prints them), `Ignore` drops them silently. Custom resources use
//!   their CRD schema (unknown = what pruning would remove).
//! - A non-apply write without `fieldManager` is recorded in `managedFields` under its user
//!   agent up to the first `/` (`my-operator/v1.2 (linux)` -> `my-operator`); without a user
//!   agent (the in-process `kube::Client::new` sends none) the manager is `unknown`.
//! - The `status` subresource: writes there change only `.status`; writes to the main resource
//!   keep the stored status; status sent on create is dropped.
//! - The `scale` subresource (`autoscaling/v1` Scale) for Deployments, ReplicaSets,
//!   StatefulSets and custom resources that declare it (their `specReplicasPath`,
//!   `statusReplicasPath` and `labelSelectorPath`).
//! - Finalizers and `deletionTimestamp`; new finalizers on an object being deleted are refused.
//! - Garbage collection by ownerReferences: background, foreground (`foregroundDeletion`
//!   finalizer held until dependents with `blockOwnerDeletion` are gone), orphan (references
//!   removed), chains, and dependents whose owners are absent (deleted) or partly absent (the
//!   dangling references removed). Deleting a namespace deletes its content and the namespace
//!   goes when it is empty.
//! - Watch: on any list path with selectors (and on the deprecated `/watch/` paths, which
//!   watch one object when they name it; a named GET ignores `watch=true`), resume from any `resourceVersion` inside the
//!   history window ([`ApiServerBuilder::history_window`]), `410 Gone` (`Expired`) below it as an
//!   `ERROR` event, `allowWatchBookmarks`, `sendInitialEvents` with the `initial-events-end`
//!   bookmark (so kube-rs streaming lists work; a watch from no `resourceVersion` gets it too,
//!   v1.32's WatchList defaulting), resuming from before the server started is `410`,
//!   `timeoutSeconds` (`0` counts as not set, as
//!   upstream reads it), ADDED/MODIFIED/DELETED with
//!   selector transitions turned into ADDED/DELETED, one JSON object per line, chunked.
//! - Table output (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, also `v1beta1`) on
//!   get and list, so `kubectl get` prints the real columns: a custom resource's
//!   `additionalPrinterColumns` for the served version (JSONPath `.a.b`, `.a[0].b`,
//!   `.a['b.c']`; `date` cells as ages, `priority` for `-o wide`; Name and Age when none are
//!   declared), and the upstream printers' columns for Namespace, Pod, Service, ConfigMap,
//!   Secret, ServiceAccount, Endpoints, Node, PersistentVolume(Claim), PodTemplate,
//!   ResourceQuota, Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision, Job,
//!   CronJob, HorizontalPodAutoscaler, EndpointSlice, Ingress, IngressClass, NetworkPolicy,
//!   PodDisruptionBudget, RoleBinding, ClusterRoleBinding, PriorityClass, StorageClass, the
//!   webhook configurations, Lease and Event; the default table (Name, Created At) for the
//!   kinds upstream has no printer for (Role, ClusterRole, LimitRange, CRDs). Rows carry
//!   `PartialObjectMetadata`, the full object or nothing per `includeObject`; a watch asked for
//!   as Table sends each object event as a one-row Table (`kubectl get -w`), the first with the
//!   column definitions.
//!
//! ## Approximated
//! - Where upstream prints a Go struct or a `cmp.Diff` in a validation message (a Job's
//!   template, a Pod's or a claim's immutable spec, the second controller reference), the value
//!   is abbreviated (`core.PodTemplateSpec{...}`) and the diff left out; code, reason, field and
//!   wording are the real ones. A LabelSelector prints in Go's `%#v` form.
//! - Image references are parsed loosely for the pull policy: the tag decides (`latest`, or no
//!   tag and no digest, is `Always`), and references that do not parse get `IfNotPresent`, as
//!   upstream; the docker grammar is not checked in every detail.
//! - `fieldValidation=Strict` refusals read `<Kind> in version "<v>" cannot be handled as a
//!   <Kind>: strict decoding error: unknown field "..."` for every verb (the real server words
//!   patch and server-side apply refusals differently); duplicate JSON fields are not detected.
//! - A JSON, merge or strategic merge patch whose result holds a scalar of the wrong JSON type
//!   is the upstream `422` on the field `patch` (` "" is invalid: patch: Invalid value: ...`);
//!   for JSON and merge patches the value shown is the patched object with its keys sorted,
//!   where Go keeps the stored order below the top level. Other decoding failures of a patched
//!   object (an object where a list belongs...) are a `400`. A patch body that is not JSON, or
//!   not the JSON its type needs, is refused with Go's words (`error decoding patch: ...` for
//!   JSON and merge patches, bare for strategic merge patches); strategic merge directive errors
//!   are upstream's (a list item without its merge key or an unknown `$patch` a `500` with
//!   `mergepatch`'s message, a `$retainKeys` that is not a list or misses a field the patch sets
//!   a `400`). A `$patch: replace` map still has its nested directives applied, which upstream
//!   leaves in place.
//! - A body with several values of the wrong JSON type is refused naming the first in key
//!   order (Go names the first in document order), and the type is printed as its base type
//!   (`string` where Go prints a named type such as `v1.RestartPolicy`).
//! - Quantities beyond 38 significant digits are refused rather than parsed with arbitrary
//!   precision.
//! - Garbage collection and namespace cleanup run synchronously inside the request that
//!   triggered them, not a moment later in a controller: by the time a delete returns, every
//!   dependent that goes is gone (or carries a `deletionTimestamp`).
//! - A watch without `timeoutSeconds` (or with `0`) stays open until the client leaves; a real
//!   server ends it after a random 30 to 60 minutes (`--min-request-timeout`), and clients
//!   re-watch.
//! - Bookmarks come every [`ApiServerBuilder::bookmark_interval`] (1 s by default; about a
//!   minute on a real server).
//! - Protobuf bodies: Go writes every non-pointer field, zero or not; a zero scalar is read as
//!   absent, except on required fields and a list of pointer fields where zero is a choice
//!   (`replicas: 0`, `runAsUser: 0`, a PVC's `storageClassName: ""`, `gracePeriodSeconds: 0`...),
//!   which covers what kubectl's generators and client-go's typed clients send.
//! - CRD validation covers the rules listed above, not the full structural-schema, CEL,
//!   conversion and printer-column checks; the `spec.versions` value in its messages is
//!   abbreviated.
//! - Table output: column descriptions are shortened from upstream's field documentation, and
//!   cells that controllers fill (a ResourceQuota's usage, an HPA's current metrics) stay empty
//!   or `<unknown>` since no controller runs.
//! - A watcher with more than [`ApiServerBuilder::watch_buffer`] undelivered events is cut (its
//!   stream ends; clients re-watch), like the real server's "forcing watcher close". Writers
//!   never wait for watchers.
//! - Lists always read the latest state: `resourceVersion` / `resourceVersionMatch` on lists are
//!   ignored and `continue` tokens never expire (they resume after the last key, without a
//!   snapshot). A list or watch from a `resourceVersion` ahead of the server is answered at
//!   once, where a real server waits up to 3 s and then answers `504` (`Too large resource
//!   version`).
//! - `managedFields` entries of Update operations leave out the `".": {}` members upstream
//!   records for maps and optional structs a write added; a strategic merge patch's
//!   `$setElementOrder` interleaves items the patch does not list by approximation.
//! - Deleting a CRD removes its instances at once, ignoring their finalizers (the real
//!   server's `customresourcecleanup` finalizer deletes them and waits for their finalizers
//!   before the CRD goes). A CRD's `selectableFields` are not supported: custom resources can
//!   be selected by `metadata.name` and `metadata.namespace` only.
//! - The request log ([`ApiServer::requests`]) keeps every request and grows without limit;
//!   long-running tests can call [`ApiServer::clear_requests`] or turn recording off with
//!   [`ApiServerBuilder::record_requests`]`(false)`.
//! - Custom resources served at several versions share one storage; an object is served at the
//!   requested version by rewriting `apiVersion` only (no conversion webhooks).
//! - Converting Events between their two versions renames fields only; the real server's
//!   output also carries the Go zero values the other version lacks (`"eventTime": null`,
//!   `"source": {}`, null timestamps), which are left out here.
//! - [`ApiServer::simulate_workloads`] stands in for controllers and kubelets: Deployments and
//!   StatefulSets are reported available in the same write; nothing else runs (no Pods are
//!   created, Jobs never complete).
//!
//! ## Absent
//! - The objects a real cluster makes for itself beyond namespaces, their `default`
//!   ServiceAccount and `kube-root-ca.crt`, the `kubernetes` Service and the system
//!   PriorityClasses: no bootstrap RBAC roles and bindings (`cluster-admin`, `view`...), no
//!   controller ServiceAccounts in `kube-system`.
//! - Authentication and authorization (every request is allowed); admission webhooks and the
//!   admission plugins not listed above (`LimitRanger` does not apply a namespace's LimitRange
//!   to pods, `ResourceQuota` enforces nothing and fills no quota status, `DefaultStorageClass`
//!   sets no class).
//! - The controllers that run workloads and route traffic: no Endpoints or EndpointSlices for
//!   Services, no pods for workloads (see [`ApiServer::simulate_workloads`] for their
//!   status).
//! - Older API versions served next to the current ones (`autoscaling/v1` HPAs, which
//!   `kubectl autoscale` writes, among them), and the kinds not listed above
//!   (ReplicationControllers, CSIDrivers, RuntimeClasses, admission policies, ...).
//! - Validation beyond the rules listed above: most of a pod spec's (ports, probes, volumes,
//!   env, template labels), a CronJob's schedule, a Service's session affinity and IP family
//!   details, quotas and limit ranges, Ingress rules. Dual-stack Services (the cluster is
//!   single-stack IPv4). The etcd request size limit (about 1.5 MiB per stored object).
//! - Protobuf and aggregated discovery responses: clients fall back to JSON, as kubectl does.
//!   `/openapi/v2` and `/openapi/v3/...` asked for with a protobuf-only `Accept` get
//!   `406 Not Acceptable` (empty body, as kube-openapi answers when it cannot produce an
//!   accepted type); kubectl 1.32 works on the JSON documents. Protobuf request bodies of
//!   CRDs (no client sends them) are refused with `400`.
//! - `pods/log`, `exec`, `proxy`, `eviction`, `token` and other
//!   connect-style subresources.
//! - Graceful deletion periods: a Pod goes at once, as an unscheduled one does (no kubelet runs
//!   pods here), and other objects are deleted immediately unless finalizers hold them.
#![warn(missing_docs)]

mod allocate;
mod defaults;
mod errors;
pub mod faults;
pub mod fixtures;
mod go_json;
pub mod log;
mod meta;
pub mod openapi;
pub mod patch;
mod protobuf;
pub mod quantity;
pub mod registry;
pub mod schema;
mod selectors;
mod server;
mod store;
mod validate;

pub use faults::{FaultRule, Faults};
pub use log::{RequestLog, RequestRecord};
pub use server::{ApiServer, ApiServerBuilder, ApiService, Listening, ResponseBody, TestkitError};
