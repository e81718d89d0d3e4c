// Every error EdgeShift raises on purpose: one base class with a stable `code`, and one catalog entry
// per code saying what it means and how to solve it. Used by all packages (components, agent, p4,
// scripts); docs/errors.md is kept in step with ERROR_CATALOG by test/components/common/errors.test.ts.
// Callers match on `err.code`, never on `instanceof`, since two copies of a bundle may be loaded.

export interface ErrorCatalogEntry {
  readonly description: string;
  readonly howToSolve: string;
}

export const ERROR_CATALOG = {
  // configuration
  ERR_CONFIG_INVALID: {
    description: 'A configuration document failed its JSON Schema or a cross-field rule.',
    howToSolve: 'Fix the field named in the message; the previous configuration stays in force.',
  },
  // ipc
  ERR_IPC_NOT_CONFIGURED: {
    description:
      'No Greengrass IPC socket is known: AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT is unset and no socket path was given.',
    howToSolve:
      'Run the component under a Greengrass nucleus or the local node (scripts/local-node-cli.ts), or pass socketPath and authToken explicitly.',
  },
  ERR_IPC_CONNECT_FAILED: {
    description: 'The IPC client could not connect to the nucleus socket after every retry.',
    howToSolve:
      'Check that the nucleus (or local node) is running, that the socket path exists and that SVCUID is the token it gave this component.',
  },
  ERR_IPC_UNAUTHORIZED: {
    description:
      "The nucleus refused an IPC operation: the component's accessControl policy does not allow it on that resource.",
    howToSolve:
      "Add the operation and topic to the component recipe's accessControl (aws.greengrass.ipc.pubsub or aws.greengrass.ipc.mqttproxy) and redeploy.",
  },
  ERR_IPC_OPERATION_FAILED: {
    description: 'An IPC operation was answered with an error by the nucleus.',
    howToSolve:
      "Read the nucleus message in the error; check the operation's arguments (topic, key path, component name).",
  },
  ERR_IPC_REQUEST_TIMEOUT: {
    description: "No reply arrived on the reply topic before the request's timeout.",
    howToSolve:
      'Check that the serving component runs and subscribes to TOPIC/request, that both policies allow the request and reply topics, or raise timeoutMs.',
  },
  ERR_IPC_REMOTE_FAILED: {
    description: 'The component serving a request answered with an error whose code EdgeShift does not know.',
    howToSolve:
      'Read remoteCode and the message in the error context; fix the request or the serving component.',
  },
  ERR_IPC_BAD_MESSAGE: {
    description:
      'A message on a request/response topic is not a valid envelope (correlationId, replyTo, body / ok).',
    howToSolve:
      "Publish request envelopes with the IPC module's request(); only it and serve() should use these topics.",
  },
  ERR_IPC_CLOSED: {
    description:
      'The IPC client was closed (SIGTERM or close()), so the operation was not sent or its reply will never arrive.',
    howToSolve: 'Do not call the IPC client after close(); pending requests fail with this code on shutdown.',
  },
  // packet codec (p4/protocol/edgeshift-header.ts)
  ERR_CODEC_BAD_LENGTH: {
    description: 'A UDP payload on the EdgeShift port is not exactly one EdgeShift header long.',
    howToSolve: 'Send one 24-byte header per datagram (docs/protocol.md).',
  },
  ERR_CODEC_BAD_MAGIC: {
    description: 'A packet on the EdgeShift port does not start with the EdgeShift magic.',
    howToSolve: 'Check that the sender speaks EdgeShift and that nothing else uses the port.',
  },
  ERR_CODEC_BAD_VERSION: {
    description: 'A packet carries a protocol version this build does not speak.',
    howToSolve: 'Run the same EdgeShift version on nodes and data plane.',
  },
  ERR_CODEC_BAD_TYPE: {
    description: 'A packet carries an unknown packet type.',
    howToSolve: 'Use one of METRICS, ADVICE, CLAIM, CLAIM_ACCEPTED, CLAIM_STALE.',
  },
  ERR_CODEC_OUT_OF_RANGE: {
    description: 'A header field is outside its range (node or service id, load above 100 %).',
    howToSolve: 'Keep node ids in 1..15, service ids in 0..63 and loads at most 10000 basis points.',
  },
  // peer agent and migration
  ERR_PEER_UNREACHABLE: {
    description:
      'A peer agent could not be reached over gRPC (connection refused, TLS handshake refused, deadline exceeded or link cut).',
    howToSolve:
      "Check the peer's grpcAddress, that its agent runs, and that both nodes hold certificates from the same CA (scripts/generate-certs.ts).",
  },
  ERR_PEER_REFUSED: {
    description: 'A peer agent answered a call with an error that carried no EdgeShift code.',
    howToSolve: "Read the peer agent's log around the call named in the message.",
  },
  ERR_PEER_BAD_MESSAGE: {
    description:
      'A gRPC message between peer agents failed validation (a field missing, empty or out of range).',
    howToSolve: 'Run the same EdgeShift version on both nodes; the message names the field.',
  },
  ERR_PEER_UNKNOWN: {
    description: 'A node id is not among the peers of the agent configuration.',
    howToSolve: 'Add the node to peers in the PeerAgent configuration, or name a configured node.',
  },
  ERR_AGENT_BAD_DRAIN_ANSWER: {
    description:
      'The peer agent answered the drain request of a stopping function host with a body the function host does not understand.',
    howToSolve:
      'Run the function host and the peer agent of the same EdgeShift version; the message quotes the answer. The function host stopped with its state checkpoints instead.',
  },
  ERR_TLS_FILES_UNREADABLE: {
    description: 'A TLS certificate, key or CA file of the peer agent could not be read.',
    howToSolve:
      'Check the tls paths in the PeerAgent configuration; scripts/generate-certs.ts writes test files.',
  },
  ERR_MIGRATION_ILLEGAL_TRANSITION: {
    description: 'The migration state machine was asked for a transition it does not allow.',
    howToSolve:
      "The migration is aborted and the old owner keeps serving; report the 'A -> B' line from the agent log.",
  },
  ERR_MIGRATION_TIMEOUT: {
    description: 'A migration step did not finish within its timeout.',
    howToSolve:
      "Before cutover the migration is aborted and the source keeps serving; raise the step's timeout in timeouts if the state is large or the link slow.",
  },
  ERR_MIGRATION_CHECKSUM_MISMATCH: {
    description:
      'State received by the target does not match the checksum sent by the source (a chunk, a delta, the whole snapshot or the activated state).',
    howToSolve:
      'The migration is aborted and the source keeps serving; retry. Repeated mismatches point at a corrupting link or a function host bug.',
  },
  ERR_MIGRATION_CLAIM_WITHDRAWN: {
    description:
      'A CLAIM still being resent was withdrawn before the data plane answered it: the import it was for was dropped or replaced.',
    howToSolve:
      'Nothing to do: the move it belonged to was aborted or superseded, and its agent settles who owns the service.',
  },
  ERR_MIGRATION_STALE_EPOCH: {
    description:
      'An ownership claim carried an epoch that is not newer than the one in force: the claimant is fenced.',
    howToSolve:
      'Another node owns the service at a newer epoch; read it with the status command and migrate from the current owner.',
  },
  ERR_MIGRATION_UNKNOWN: {
    description: 'A call named a migration id the agent does not know (never prepared, or already finished).',
    howToSolve: 'Start a new migration; late calls of a finished migration are refused on purpose.',
  },
  ERR_MIGRATION_BUSY: {
    description: 'A migration of the service is already in progress on this node.',
    howToSolve: 'Wait until it commits or aborts (status command), then retry.',
  },
  ERR_MIGRATION_NOT_OWNER: {
    description: 'A migration was asked of a node that does not own the service.',
    howToSolve:
      "Send the command to the owner (the status command shows each service's role), or ask for a pull with a target node.",
  },
  ERR_MIGRATION_UNKNOWN_SERVICE: {
    description: 'A service name is not in the PeerAgent services configuration.',
    howToSolve:
      'Add the service to services in the PeerAgent configuration, with its serviceId and cutover option.',
  },
  // function host and sample application (components/function-host/, components/sample-app/)
  ERR_FNHOST_BAD_REQUEST: {
    description:
      'A function host control request or request datagram has a malformed or out-of-range field (chunkBytes, chunk index, address, id).',
    howToSolve:
      'Fix the field named in the message; see components/function-host/function-host-api.ts and request-wire.ts for the formats.',
  },
  ERR_FNHOST_CHANNEL_CLOSED: {
    description:
      "The function host's control channel closed, could not be opened, or gave no reply in time; the calls in flight on it failed.",
    howToSolve:
      'The next call opens a new channel through IPC; check that the function host runs and that openControlChannel is allowed on its control topic.',
  },
  ERR_FNHOST_BAD_HAND_OFF: {
    description:
      "A direct hand-off datagram (the last delta a frozen source sends straight to the new owner) did not authenticate under its migration's key, or was malformed; it was ignored and nothing was applied.",
    howToSolve:
      'Nothing to do for a single occurrence: the same delta also arrives through the agents. Repeated, look for a forged or corrupted datagram on the request network.',
  },
  ERR_FNHOST_BAD_STATE_DATA: {
    description:
      'A snapshot chunk or delta given to the function host is malformed (version, kind, truncated record, unknown namespace, a patch range out of order or out of bounds, a key twice in one delta) or a delta patches a value this host does not hold at that length; nothing of it was applied.',
    howToSolve:
      'Send chunks and deltas exactly as readExportChunk and nextDelta returned them, every delta once and in order after the whole snapshot; check the transfer for corruption.',
  },
  ERR_FNHOST_BAD_CHECKPOINT: {
    description:
      'A state checkpoint the function host found at start-up could not be read, is malformed, names another service or fails its checksum; it was renamed with the suffix .rejected, nothing of it was applied, and the service started in its configured role.',
    howToSolve:
      'Inspect the .rejected file (a disk fault, or a file edited or copied by hand); the state it held is not served. Move the service here again with a migration if this node should own it.',
  },
  ERR_FNHOST_NO_EXPORT: {
    description:
      'readExportChunk or nextDelta was called while no export of the service is in progress (or its snapshot was already released by a delta).',
    howToSolve: 'Call beginExport first and read every chunk before the first nextDelta.',
  },
  ERR_FNHOST_UNKNOWN_SERVICE: {
    description: 'The function host does not run the named service.',
    howToSolve:
      'Check the service name against listFunctions and the function host configuration (services).',
  },
  ERR_FNHOST_CUT_OVER: {
    description:
      'dropState named an import whose function host already holds the service by its own word: the data plane accepted its CLAIM (direct cutover), or it told the old owner it had activated (fence): its state stays.',
    howToSolve:
      'Nothing to undo: the agent of the new owner takes the refusal as its cutover and completes the move forward (an Abort from the old owner is answered kept). Read the owner with listFunctions or the data plane registers before retrying an abort.',
  },
  ERR_FNHOST_FENCED: {
    description:
      'activate named an import whose old owner, unsure how its TakeOver ended, had already been told this function host would never activate it.',
    howToSolve:
      'Nothing to do: the old owner kept the service and this import is dropped. Move the service again once both agents can reach each other.',
  },
  ERR_FNHOST_WRONG_MIGRATION: {
    description: 'A control request names a migration id other than the one in progress for the service.',
    howToSolve: 'Use the migration id given to beginExport or beginImport; abort the other migration first.',
  },
  ERR_FNHOST_WRONG_ROLE: {
    description:
      "A control request is not allowed in the service's current role (for example freeze on a standby, or dropState on the owner).",
    howToSolve:
      'Read the role with listFunctions and follow the migration order: export, freeze, handOver, dropState on the source; import, activate on the target.',
  },
  ERR_FNHOST_STALE_EPOCH: {
    description:
      'An epoch given to activate, handOver or setRoute is not newer than the one the function host already holds for the service.',
    howToSolve:
      'Use an epoch above the current one (listFunctions shows it); a stale request comes from a node that lost ownership.',
  },
  ERR_FNHOST_NOT_OWNER: {
    description:
      'A request reached a node that neither owns the service nor knows where its owner is; it was answered with this error, not processed.',
    howToSolve:
      'Route requests to the owner (data plane CLAIM or setRoute); retry the request with the same id.',
  },
  ERR_FNHOST_BUFFER_FULL: {
    description:
      'A request arrived while the service was frozen or busy and its buffer was at maxBufferedRequests; it was answered with this error, not processed.',
    howToSolve:
      'Retry the request with the same id, keep freezes short, or raise maxBufferedRequests in the function host configuration.',
  },
  ERR_FNHOST_CHUNK_ORDER: {
    description: 'importChunk got a chunk index other than the next expected one.',
    howToSolve: 'Send chunks in order from 0, each once; restart the import with beginImport after a gap.',
  },
  ERR_FNHOST_FUNCTION_FAILED: {
    description:
      "A function's handler threw while processing a request; the error reply carries its message.",
    howToSolve: "Read the function's log line for the request id and fix the function or the request body.",
  },
  ERR_FNHOST_CALL_TIMEOUT: {
    description: "A function's call to a downstream service got no reply after every retry.",
    howToSolve:
      'Check that the downstream service runs and its route (setRoute or serviceAddresses) is right, or raise callTimeoutMs.',
  },
  ERR_FNHOST_FUNCTION_LOAD: {
    description:
      'A function module could not be loaded or does not export createFunction returning {name, isStateful, handler}.',
    howToSolve: "Check the module path or builtin name in the configuration and the module's exports.",
  },
  ERR_FNHOST_CLOSED: {
    description: 'The function host is closing or closed, so the operation was not performed.',
    howToSolve: 'Do not call the function host after close(); restart the component.',
  },
  ERR_APP_BAD_READING: {
    description:
      'A sensor reading sent to the sample application is not valid (sensorId, finite value, unit).',
    howToSolve: 'Send {sensorId: string, value: finite number, unit?: one of C, F, K} as the request body.',
  },
  // load generator and benchmarks
  ERR_LOADGEN_INVALID_OPTION: {
    description: 'A load generator or benchmark option is missing, not a positive number, or out of range.',
    howToSolve:
      'Fix the option named in the message (rateHz, durationMs, keyCount, target port, repeat ...).',
  },
  ERR_LOADGEN_THREAD: {
    description:
      'The load generator running on a worker thread failed, exited before its report, or could not answer a latency query.',
    howToSolve:
      "Read the message for the thread's own error (often an invalid option); run the generator in-process (LoadGenerator) to debug it.",
  },
  ERR_BENCH_INVALID_MODULE: {
    description:
      'A scripts/bench/*.bench.ts file does not export `benchmark` with a name and a run function, or its run did not return numeric metrics.',
    howToSolve:
      'Export `const benchmark: Benchmark = { name, description, run }` (scripts/bench/harness.ts) whose run resolves to a Record<string, number>.',
  },
  ERR_BENCH_UNKNOWN_NAME: {
    description:
      'A benchmark named on the command line (--only) was not found among the discovered benchmarks.',
    howToSolve: 'Run without --only to list them, and use a name exactly as printed.',
  },
  ERR_PLOT_BAD_INPUT: {
    description:
      'A file given to the plot command (a load report, an events or markers list) is not JSON of the expected shape.',
    howToSolve:
      "Pass a report written by the load generator's --json-out, events as [{atEpochMs, label}] and markers as [{atMs, label}].",
  },
  // recipes, local node and artifact build
  ERR_RECIPE_INVALID: {
    description:
      'A component recipe is not valid YAML or JSON, or breaks a rule of RecipeFormatVersion 2020-01-25 (field, type, name or version).',
    howToSolve:
      'Fix the recipe field named in the message (the path is given, e.g. /Manifests/0/Lifecycle/Run).',
  },
  ERR_RECIPE_NO_MANIFEST: {
    description: 'No manifest of the recipe matches this platform (os and architecture).',
    howToSolve:
      'Add a manifest whose Platform matches the os and architecture in the message, or a wildcard one.',
  },
  ERR_NODE_DEPENDENCY: {
    description:
      'A component depends on a component that is not in the recipe directory, or the dependencies form a cycle.',
    howToSolve:
      'Add the missing recipe (or artifacts) to the recipe directory, or break the cycle named in the message.',
  },
  ERR_NODE_ARTIFACT_MISSING: {
    description:
      'An artifact a recipe lists was not found in the artifact directory at ARTIFACT_DIR/COMPONENT/VERSION/FILE.',
    howToSolve: 'Run npm run build:artifacts, or put the file at the path in the message.',
  },
  ERR_NODE_START_FAILED: {
    description:
      'The local node could not start: the nucleus socket, a recipe, an artifact or the configuration merge failed.',
    howToSolve:
      'Read the cause in the message; check --recipe-dir, --artifact-dir, --root and that --merge is a JSON object keyed by component name.',
  },
  ERR_BUILD_FAILED: {
    description: 'Bundling a component or writing its artifacts failed.',
    howToSolve:
      'Read the esbuild or file-system error in the message and fix the entry file or the output directory.',
  },
  // cloud deployment (scripts/cloud/)
  ERR_DEPLOYMENT_BAD_RECIPE: {
    description: 'A recipe given to the cloud deployment has no ComponentName or ComponentVersion.',
    howToSolve: 'Build the artifacts (npm run build:artifacts) and deploy the recipes it writes.',
  },
  ERR_DEPLOYMENT_FAILED: {
    description: 'The core device reported a deployment as failed, or there was nothing to revise.',
    howToSolve: 'Read the reason in the message; a rejected configuration leaves the previous one in force.',
  },
  ERR_DEPLOYMENT_TIMEOUT: {
    description: 'The core device did not finish a deployment in time.',
    howToSolve: 'Check that the device is online (its nucleus connected), then wait or raise --timeout-ms.',
  },
  // local nucleus (scripts/local-nucleus/)
  ERR_NUCLEUS_OPTIONS_INVALID: {
    description: 'The local nucleus was given an invalid option or component registration.',
    howToSolve:
      'Fix the option named in the message (socketPath, thingName, configurationValidationTimeoutMs, or the registration name, version and configuration).',
  },
  ERR_NUCLEUS_UNKNOWN_COMPONENT: {
    description: 'The local nucleus was asked about a component that is not registered.',
    howToSolve: 'Call registerComponent for the component before reading its configuration or state.',
  },
  ERR_NUCLEUS_FRAME_INVALID: {
    description:
      'A client sent the local nucleus a malformed eventstream frame (bad CRC, bad length or bad header); that connection was closed.',
    howToSolve:
      'Connect with the Greengrass IPC client of aws-iot-device-sdk-v2; a raw client must frame messages as eventstream RPC.',
  },
  ERR_NUCLEUS_FRAME_TOO_LARGE: {
    description:
      'A client announced an eventstream frame larger than the local nucleus accepts (16 MiB by default); that connection was closed.',
    howToSolve:
      'Send smaller messages (Greengrass caps IPC messages the same way) or raise maxFrameBytes in a test.',
  },
  ERR_NUCLEUS_MQTT_BRIDGE: {
    description: 'The local nucleus could not reach or use the MQTT broker that stands in for AWS IoT Core.',
    howToSolve:
      'Check mqttBrokerUrl and that the broker is running; the message carries the error from the broker.',
  },
  // node monitor (components/node-monitor/)
  ERR_MONITOR_SOURCE_UNREADABLE: {
    description:
      'The node monitor could not read a file of its load source (/proc/stat, /proc/meminfo or a cgroup v2 interface file).',
    howToSolve:
      'Check source in the NodeMonitor configuration: for kind cgroup, path must be a cgroup v2 directory holding cpu.stat and memory.current; the message names the file.',
  },
  ERR_MONITOR_SOURCE_MALFORMED: {
    description:
      "A file of the node monitor's load source does not have the expected format (a counter missing or not a number).",
    howToSolve:
      'Point the source at the right file or directory (cgroup v2, not v1); the message names the file and the field.',
  },
  ERR_MONITOR_CLOSED: {
    description: 'The node monitor was asked to start or reconfigure after close(), or to start twice.',
    howToSolve: 'Create a new NodeMonitor; close() is final.',
  },
  // reference data plane and STF runner (p4/reference/, p4/stf/)
  ERR_DATAPLANE_UNKNOWN_NAME: {
    description:
      'A table, action, key field, register or counter name is not in the data plane program, or a suffix matches more than one.',
    howToSolve:
      'Use a name from docs/protocol.md (GET /tables on the admin interface lists them); give more of the qualified name when the message says it is ambiguous.',
  },
  ERR_DATAPLANE_BAD_ENTRY: {
    description:
      'A table entry or default action was refused: a key or parameter is missing, does not fit its width, names an action the table does not have, or duplicates an existing key.',
    howToSolve: 'Fix the field named in the message; nothing of the refused entry was applied.',
  },
  ERR_DATAPLANE_BIND_FAILED: {
    description:
      'The reference data plane could not bind one of its UDP sockets (the data-plane address:7700 or a service VIP:port).',
    howToSolve:
      'Check that the address exists on this machine (127.0.0.0/8 always does on Linux) and that no other process holds the port.',
  },
  ERR_STF_SYNTAX: {
    description:
      'An STF test file has a line the parser does not understand, or a value out of range; the message gives file:line.',
    howToSolve:
      "Fix the line after the grammar of p4c's STF format (p4/stf/stf-parser.ts lists it); regenerate generated files with scripts/generate-stf-tests.ts.",
  },
  // control-plane topology (p4/control-plane/)
  ERR_TOPOLOGY_UNREADABLE: {
    description: 'A topology file could not be read or is not a YAML document.',
    howToSolve: 'Check the path (p4/control-plane/*.yaml) and the YAML syntax at the line the message gives.',
  },
  ERR_TOPOLOGY_INVALID: {
    description:
      'A topology file failed topology.schema.json or a cross-field rule (ids in range and unique, peers, services and balanced nodes that exist, load_high_bp above load_low_bp, unique addresses).',
    howToSolve: 'Fix the field the message names; nothing of the topology was applied.',
  },
  // node debugging CLI (scripts/cli/)
  ERR_CLI_NO_IPC_ACCESS: {
    description:
      'The node CLI found no IPC access: no --ipc file was given and AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT and SVCUID are not both set.',
    howToSolve:
      'Pass --ipc <root>/debug-ipc.json written by the local node (npm run local-node), or run the CLI inside a component that has both variables.',
  },
  ERR_CLI_IPC_FILE_INVALID: {
    description:
      'The file given with --ipc cannot be read or is not a JSON object {socketPath, svcuid, thingName?}.',
    howToSolve:
      'Point --ipc at the debug-ipc.json the local node writes under its root; restart the local node if the file is missing.',
  },
  ERR_CLI_NO_THING_NAME: {
    description:
      'The node CLI does not know which node to talk to: no --thing-name, no thingName in the --ipc file and no AWS_IOT_THING_NAME.',
    howToSolve: "Pass --thing-name <name> (the node's thing name, e.g. node-a).",
  },
  ERR_CLI_BAD_ARGUMENT: {
    description: 'A node CLI argument is not valid (for example ipc pub with a payload that is not JSON).',
    howToSolve:
      'Fix the argument named in the message; `edgeshift <command> --help` shows the expected form.',
  },
  ERR_CLI_DATA_PLANE_UNREACHABLE: {
    description:
      "The reference data plane's admin interface did not answer (nothing listens at the URL, or it timed out).",
    howToSolve:
      'Start the data plane with --admin-port (npx tsx scripts/reference-data-plane.ts --topology p4/control-plane/local.yaml --admin-port 7780) or pass --data-plane-admin with its URL.',
  },
  ERR_CLI_DATA_PLANE_BAD_ANSWER: {
    description:
      'The data plane admin interface answered with an HTTP error or a body of an unexpected shape.',
    howToSolve:
      'Check that --data-plane-admin points at an EdgeShift reference data plane of the same version; the message quotes the answer.',
  },
  ERR_CLI_MIGRATION_FAILED: {
    description:
      'A migration started with `edgeshift migrate` ended aborted, or the agent refused to start it.',
    howToSolve:
      'Read the abort reason in the message (its code is in this table); the source node keeps serving after an abort, so the command can be retried.',
  },
  ERR_CLI_DRAIN_INCOMPLETE: {
    description: '`edgeshift drain` left services on this node: no peer took them.',
    howToSolve:
      'Read the reason of each kept service (the peer refused or was unreachable); the node keeps serving them, so fix the peer and drain again.',
  },
  ERR_CLI_NO_METRICS: {
    description: "`edgeshift metrics` received no sample on the node monitor's local topic in time.",
    howToSolve:
      'Check with `edgeshift status` that com.edgeshift.NodeMonitor is RUNNING and that its configuration has publishLocalTopic: true.',
  },
  ERR_CLI_BAD_AGENT_ANSWER: {
    description:
      'The peer agent answered a status or migrate request with a body the node CLI does not understand.',
    howToSolve:
      'Run the node CLI and the peer agent of the same EdgeShift version; the message quotes the answer.',
  },
  ERR_CLI_DOCTOR_FAILED: {
    description: '`edgeshift doctor` found at least one failing check.',
    howToSolve: 'Follow the fix line printed for each FAIL check, then run doctor again.',
  },
  // namespace testbed of the system tests (scripts/testbed/)
  ERR_TESTBED_COMMAND_FAILED: {
    description:
      "A namespace testbed could not be built or used: an `ip` command failed, a host role is invalid or unknown, or a part's admin interface answered with an error.",
    howToSolve:
      'Run the system tests as root with iproute2 installed (.ci/run does both); read the `ip` error in the message; stale namespaces of dead runs (edgeshift-<pid>-*) are removed by the next run, or delete them with `ip netns delete`.',
  },
  ERR_TESTBED_TIMEOUT: {
    description:
      'A process in a namespace testbed did not show what a system test waited for (ready line, datagram, register value) in time, or exited first.',
    howToSolve:
      "Read the process's last output quoted in the message; on a very loaded machine raise the timeout of the wait it names.",
  },
  // two-node test bed (scripts/testbed/two-node-testbed.ts)
  ERR_E2E_TIMEOUT: {
    description:
      'The two-node test bed did not become ready (function hosts, agents, ingest through the data plane) or a log line it waited for did not come in time.',
    howToSolve:
      "Read the node logs under the test bed's root (<root>/<node>/logs/<component>.log); check that nothing else binds 127.0.0.10-12 or 127.0.0.100 and that the artifacts build (npm run build:artifacts).",
  },
  ERR_E2E_BAD_REPLY: {
    description:
      'A peer agent or function host of the two-node test bed answered a control request with an unexpected shape, or a move asked for a cutover option the agents were not started with.',
    howToSolve:
      'Start the test bed with the cutover option the move needs; for a bad shape, compare agent/control-service.ts and components/function-host/function-host-api.ts with the test bed.',
  },
} as const satisfies Record<string, ErrorCatalogEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export type ErrorContext = Readonly<Record<string, string | number | boolean | undefined>>;

export class EdgeShiftError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: { context?: ErrorContext; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EdgeShiftError';
    this.code = code;
    this.context = options.context ?? {};
  }
}

/** True when `code` is one of the catalog's (so it can travel between processes and stay typed). */
export function isCatalogCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOG, code);
}

/** A failure as it leaves for another process: its catalog code when it has one, else `fallback`. */
export function toWireError(err: unknown, fallback: ErrorCode): { code: ErrorCode; message: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return {
    code: typeof code === 'string' && isCatalogCode(code) ? code : fallback,
    message: err instanceof Error ? err.message : String(err),
  };
}

/** True when `err` carries one of EdgeShift's codes (works across bundle copies). */
export function hasErrorCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
