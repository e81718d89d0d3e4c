/* -*- P4_16 -*- */
// EdgeShift data plane for v1model (BMv2 simple_switch): tracks each edge node's load from METRICS
// reports, advises an overloaded node to offload a service to its peer (ADVICE), commits ownership
// changes atomically (CLAIM), steers requests for a service's virtual address (VIP) to the node that
// should serve it, and forwards everything else by IPv4 LPM. The specification is docs/protocol.md;
// the TypeScript reference data plane in p4/reference/ implements the same pipeline and both pass
// p4/tests/*.stf. Control-plane entries come from p4/control-plane/*.yaml
// (scripts/generate-switch-commands.ts). One pass through the pipeline, no recirculation.
//
// Compile: p4c-bm2-ss --arch v1model -o build/edgeshift.json p4/edgeshift.p4
// Test:    p4c's backends/bmv2/run-bmv2-test.py with -tf p4/tests/<file>.stf, for each file
// Names:   tables and actions are EdgeShiftIngress.<name> (EdgeShiftIngress.node_table); the
//          registers and the drop_reasons counter are top-level, so their names are bare
//          (register_read node_cpu_load 1).
#include <core.p4>
#include <v1model.p4>

// The EdgeShift header type and protocol constants (UDP port, magic, version, packet types, register
// sizes), generated from p4/protocol/edgeshift-protocol.ts: never write them here by hand.
#include "include/edgeshift_protocol.p4"

const bit<16> TYPE_IPV4 = 0x0800;
const bit<8>  IP_PROTOCOL_UDP = 17;
const bit<4>  IPV4_IHL_NO_OPTIONS = 5;

// Sequence numbers are compared with serial arithmetic (RFC 1982): `next` is newer than `last` when
// (next - last) mod 2^32 is in 1 .. 2^31 - 1.
const bit<32> SEQUENCE_HALF_RANGE = 0x80000000;
// The overload streak saturates instead of wrapping to 0 (which would read as "not overloaded").
const bit<8>  OVERLOAD_STREAK_MAX = 255;
// A node id of 0 means "no node" everywhere (no owner, no peer, no choice).
const bit<16> NO_NODE = 0;

// Index of each reason in the drop_reasons counter (docs/protocol.md §2). 0 = not dropped.
const bit<32> DROP_REASON_COUNT = 16;
const bit<8>  DROP_MALFORMED = 1;
const bit<8>  DROP_IPV4_CHECKSUM = 2;
const bit<8>  DROP_NOT_IPV4 = 3;
const bit<8>  DROP_UNKNOWN_SENDER = 4;
const bit<8>  DROP_STALE_SEQUENCE = 5;
const bit<8>  DROP_TYPE_NOT_ACCEPTED = 6;
const bit<8>  DROP_NO_OWNER = 7;
const bit<8>  DROP_NO_LIVE_NODE = 8;
const bit<8>  DROP_NO_ROUTE = 9;
const bit<8>  DROP_NODE_NOT_IN_TABLE = 10;

/*************************************************************************
*********************** H E A D E R S  ***********************************
*************************************************************************/

typedef bit<9>  egressSpec_t;
typedef bit<48> macAddr_t;
typedef bit<32> ip4Addr_t;
typedef bit<16> nodeId_t;      // 1..NODE_COUNT-1; 0 = none
typedef bit<16> serviceId_t;   // 0..SERVICE_COUNT-1; 0 = none
typedef bit<16> loadBp_t;      // load in basis points, 0..LOAD_SCALE_BP
typedef bit<48> timeUs_t;      // BMv2 ingress_global_timestamp, microseconds

header ethernet_t {
    macAddr_t dst_addr;
    macAddr_t src_addr;
    bit<16>   ether_type;
}

header ipv4_t {
    bit<4>    version;
    bit<4>    ihl;
    bit<8>    diffserv;
    bit<16>   total_len;
    bit<16>   identification;
    bit<3>    flags;
    bit<13>   frag_offset;
    bit<8>    ttl;
    bit<8>    protocol;
    bit<16>   hdr_checksum;
    ip4Addr_t src_addr;
    ip4Addr_t dst_addr;
}

header udp_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<16> length_bytes;   // UDP header + payload
    bit<16> checksum;
}

// edgeshift_t (from the include) follows UDP on port EDGESHIFT_UDP_PORT. Nodes write METRICS
// (their load) and CLAIM (ownership of a service); this program writes ADVICE, CLAIM_ACCEPTED and
// CLAIM_STALE by turning the node's packet around.
struct headers_t {
    ethernet_t  ethernet;
    ipv4_t      ipv4;
    udp_t       udp;
    edgeshift_t edgeshift;
}

// Loads and liveness of one node, read from the registers by ReadNodeState.
struct node_state_t {
    bool     is_live;
    loadBp_t load_bp;            // max(cpu, memory)
    loadBp_t cpu_load_bp;
    loadBp_t mem_load_bp;
    bit<16>  inflight_requests;
}

// The policy in force, from policy_table (docs/protocol.md §2).
struct policy_t {
    loadBp_t load_high_bp;         // a report at or above this load counts as overloaded
    loadBp_t load_low_bp;          // a peer at or below this load may receive work
    bit<8>   overload_reports;     // consecutive overloaded reports before ADVICE
    bit<32>  liveness_reports;     // live while at most this many reports followed the node's last
    timeUs_t liveness_timeout_us;  // and, unless 0, while its last report is at most this old
}

struct metadata_t {
    policy_t  policy;
    // Key of node_table: the sender of a control packet, or the node chosen for a request.
    nodeId_t  node_id;
    // node_table's entry for node_id (set_node).
    ip4Addr_t node_ipv4_addr;
    macAddr_t node_mac_addr;
    egressSpec_t node_port;
    nodeId_t  peer_node_id;
    serviceId_t offload_service_id;
    // service_table's entry for a request (steer_to_owner / balance_between).
    bool      is_service_request;
    bool      is_stateful_service;
    serviceId_t service_id;
    nodeId_t  balance_node_a;
    nodeId_t  balance_node_b;
    // Decisions of the ingress controls.
    bool      is_report_accepted;
    bit<8>    reporter_overload_streak;
    bool      is_advice;
    bit<8>    drop_reason;
}

error {
    BadMagic,       // EdgeShift magic is not EDGESHIFT_MAGIC
    BadVersion,     // version is not EDGESHIFT_VERSION
    BadPacketType,  // packet type is not one of PACKET_TYPE_*
    BadLength,      // UDP length is not EDGESHIFT_UDP_LENGTH (exactly one EdgeShift header)
    BadRange        // node id 0 or >= NODE_COUNT, service id >= SERVICE_COUNT, target node id >= NODE_COUNT, load > LOAD_SCALE_BP
}

/*************************************************************************
*********************** R E G I S T E R S ********************************
*************************************************************************/
// Declared at the top level because several ingress controls share them (TrackNodeLoad writes what
// DecideOffloadAdvice and SteerRequest read); their control-plane names are the bare names below.
// Indexes are node ids (size NODE_COUNT) or service ids (size SERVICE_COUNT); the parser's range
// check and the control plane's topology validation keep every index in range.

// [node id] last reported CPU load, basis points. Writer: TrackNodeLoad.
register<loadBp_t>(NODE_COUNT) node_cpu_load;
// [node id] last reported memory load, basis points. Writer: TrackNodeLoad.
register<loadBp_t>(NODE_COUNT) node_mem_load;
// [node id] last reported number of requests in progress on the node. Writer: TrackNodeLoad.
register<bit<16>>(NODE_COUNT) node_inflight;
// [node id] sequence number of the node's last accepted report. Writer: TrackNodeLoad.
register<bit<32>>(NODE_COUNT) node_last_sequence;
// [node id] value of metrics_report_clock when the node's last report was accepted; 0 = never
// reported. Liveness counted in reports keeps STF tests independent of wall-clock time.
// Writer: TrackNodeLoad.
register<bit<32>>(NODE_COUNT) node_last_report_clock;
// [node id] ingress_global_timestamp (microseconds) of the node's last accepted report.
// Writer: TrackNodeLoad.
register<timeUs_t>(NODE_COUNT) node_last_seen_us;
// [node id] consecutive accepted reports with load >= load_high_bp, saturating at
// OVERLOAD_STREAK_MAX. Writers: TrackNodeLoad (count), DecideOffloadAdvice (reset to 0 on ADVICE).
register<bit<8>>(NODE_COUNT) node_overload_streak;
// [0] number of METRICS reports accepted from all nodes: the clock that liveness is counted in.
// Writer: TrackNodeLoad.
register<bit<32>>(1) metrics_report_clock;
// [service id] owner node id of the service; 0 = no owner. Writer: HandleClaim (the control plane
// may seed it).
register<nodeId_t>(SERVICE_COUNT) service_owner;
// [service id] ownership epoch in force; only a CLAIM with a greater epoch changes the owner.
// Writer: HandleClaim (the control plane may seed it).
register<bit<32>>(SERVICE_COUNT) service_epoch;

// [drop reason] packets dropped for each DROP_* reason. Writers: EdgeShiftIngress.
counter(DROP_REASON_COUNT, CounterType.packets) drop_reasons;

/*************************************************************************
*********************** P A R S E R  ***********************************
*************************************************************************/

parser EdgeShiftParser(packet_in packet,
                       out headers_t hdr,
                       inout metadata_t meta,
                       inout standard_metadata_t standard_metadata) {

    state start {
        transition parse_ethernet;
    }

    state parse_ethernet {
        packet.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            TYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }

    state parse_ipv4 {
        packet.extract(hdr.ipv4);
        // UDP is parsed only after an option-less IPv4 header.
        transition select(hdr.ipv4.ihl, hdr.ipv4.protocol) {
            (IPV4_IHL_NO_OPTIONS, IP_PROTOCOL_UDP): parse_udp;
            default: accept;
        }
    }

    state parse_udp {
        packet.extract(hdr.udp);
        transition select(hdr.udp.dst_port) {
            EDGESHIFT_UDP_PORT: parse_edgeshift;
            default: accept;
        }
    }

    // A failed verify leaves the header valid and sets parser_error; BMv2 still runs ingress, which
    // therefore checks parser_error before anything else. A truncated header sets PacketTooShort.
    state parse_edgeshift {
        packet.extract(hdr.edgeshift);
        verify(hdr.edgeshift.magic == EDGESHIFT_MAGIC, error.BadMagic);
        verify(hdr.edgeshift.version == EDGESHIFT_VERSION, error.BadVersion);
        // Packet type codes are the contiguous range METRICS..CLAIM_STALE.
        verify(hdr.edgeshift.packet_type >= PACKET_TYPE_METRICS
               && hdr.edgeshift.packet_type <= PACKET_TYPE_CLAIM_STALE, error.BadPacketType);
        verify(hdr.udp.length_bytes == EDGESHIFT_UDP_LENGTH, error.BadLength);
        verify(hdr.edgeshift.node_id != NO_NODE
               && (bit<32>)hdr.edgeshift.node_id < NODE_COUNT, error.BadRange);
        verify((bit<32>)hdr.edgeshift.service_id < SERVICE_COUNT, error.BadRange);
        verify((bit<32>)hdr.edgeshift.target_node_id < NODE_COUNT, error.BadRange);
        verify(hdr.edgeshift.cpu_load_bp <= LOAD_SCALE_BP
               && hdr.edgeshift.mem_load_bp <= LOAD_SCALE_BP, error.BadRange);
        transition accept;
    }
}

/*************************************************************************
************   C H E C K S U M    V E R I F I C A T I O N   *************
*************************************************************************/

// Sets standard_metadata.checksum_error on a bad IPv4 header checksum; ingress drops the packet.
control EdgeShiftVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        verify_checksum(
            hdr.ipv4.isValid(),
            { hdr.ipv4.version,
              hdr.ipv4.ihl,
              hdr.ipv4.diffserv,
              hdr.ipv4.total_len,
              hdr.ipv4.identification,
              hdr.ipv4.flags,
              hdr.ipv4.frag_offset,
              hdr.ipv4.ttl,
              hdr.ipv4.protocol,
              hdr.ipv4.src_addr,
              hdr.ipv4.dst_addr },
            hdr.ipv4.hdr_checksum,
            HashAlgorithm.csum16);
    }
}

/*************************************************************************
**************  I N G R E S S   P R O C E S S I N G   *******************
*************************************************************************/

// Reads the loads and the liveness of one node (docs/protocol.md §2, Definitions):
// live(n) = n has reported, at most liveness_reports reports (from all nodes) were accepted since
// its last one, and, when liveness_timeout_us is not 0, its last report is at most that old.
control ReadNodeState(in nodeId_t node_id,
                      in policy_t policy,
                      in timeUs_t now_us,
                      out node_state_t state) {
    apply {
        bit<32> node = (bit<32>)node_id;
        node_cpu_load.read(state.cpu_load_bp, node);
        node_mem_load.read(state.mem_load_bp, node);
        node_inflight.read(state.inflight_requests, node);
        state.load_bp = state.cpu_load_bp;
        if (state.mem_load_bp > state.cpu_load_bp) {
            state.load_bp = state.mem_load_bp;
        }

        bit<32> report_clock;
        metrics_report_clock.read(report_clock, 0);
        bit<32> last_report_clock;
        node_last_report_clock.read(last_report_clock, node);
        timeUs_t last_seen_us;
        node_last_seen_us.read(last_seen_us, node);
        state.is_live = false;
        if (last_report_clock != 0 && report_clock - last_report_clock <= policy.liveness_reports) {
            if (policy.liveness_timeout_us == 0 || now_us - last_seen_us <= policy.liveness_timeout_us) {
                state.is_live = true;
            }
        }
    }
}

// METRICS from an authenticated node: rejects a stale or replayed sequence number, else records the
// report and counts the node's overload streak. Sets meta.is_report_accepted and
// meta.reporter_overload_streak.
control TrackNodeLoad(in headers_t hdr, inout metadata_t meta, in timeUs_t now_us) {

    // The whole read-modify-write of the node's registers and of metrics_report_clock is one action,
    // so BMv2 holds the register locks for all of it.
    action record_report() {
        bit<32> node = (bit<32>)hdr.edgeshift.node_id;
        bit<32> previous_report_clock;
        node_last_report_clock.read(previous_report_clock, node);
        bit<32> previous_sequence;
        node_last_sequence.read(previous_sequence, node);
        bit<32> distance = hdr.edgeshift.sequence - previous_sequence;

        meta.is_report_accepted = true;
        if (previous_report_clock != 0 && (distance == 0 || distance >= SEQUENCE_HALF_RANGE)) {
            meta.is_report_accepted = false;  // not newer than the last accepted report
        }
        if (meta.is_report_accepted) {
            bit<32> report_clock;
            metrics_report_clock.read(report_clock, 0);
            report_clock = report_clock + 1;
            metrics_report_clock.write(0, report_clock);

            node_cpu_load.write(node, hdr.edgeshift.cpu_load_bp);
            node_mem_load.write(node, hdr.edgeshift.mem_load_bp);
            node_inflight.write(node, hdr.edgeshift.inflight_requests);
            node_last_sequence.write(node, hdr.edgeshift.sequence);
            node_last_report_clock.write(node, report_clock);
            node_last_seen_us.write(node, now_us);

            loadBp_t load_bp = hdr.edgeshift.cpu_load_bp;
            if (hdr.edgeshift.mem_load_bp > load_bp) {
                load_bp = hdr.edgeshift.mem_load_bp;
            }
            bit<8> streak;
            node_overload_streak.read(streak, node);
            if (load_bp >= meta.policy.load_high_bp) {
                if (streak < OVERLOAD_STREAK_MAX) {
                    streak = streak + 1;
                }
            } else {
                streak = 0;
            }
            node_overload_streak.write(node, streak);
            meta.reporter_overload_streak = streak;
        }
    }

    apply {
        record_report();
    }
}

// After an accepted report: advise the reporter to offload its offload service to its peer when it
// has been overloaded for overload_reports reports, the peer is live with load <= load_low_bp, and
// the reporter owns the service. Turns the report into ADVICE in place (the caller turns it around)
// and resets the streak, so advice repeats at most every overload_reports reports (hysteresis).
// Sets meta.is_advice.
control DecideOffloadAdvice(inout headers_t hdr, inout metadata_t meta, in timeUs_t now_us) {
    ReadNodeState() read_peer_state;

    apply {
        meta.is_advice = false;
        if (meta.reporter_overload_streak < meta.policy.overload_reports) {
            return;  // not overloaded for long enough
        }
        if (meta.peer_node_id == NO_NODE || meta.offload_service_id == 0) {
            return;  // the reporter has no peer or no service to offload
        }
        node_state_t peer;
        read_peer_state.apply(meta.peer_node_id, meta.policy, now_us, peer);
        if (!peer.is_live || peer.load_bp > meta.policy.load_low_bp) {
            return;  // the peer has no room, or is not known to be up
        }
        nodeId_t owner;
        service_owner.read(owner, (bit<32>)meta.offload_service_id);
        if (owner != hdr.edgeshift.node_id) {
            return;  // only the owner of a service may be advised to move it
        }
        // ADVICE: node_id stays the reporter (the addressee) and sequence echoes its report.
        hdr.edgeshift.packet_type = PACKET_TYPE_ADVICE;
        hdr.edgeshift.service_id = meta.offload_service_id;
        hdr.edgeshift.target_node_id = meta.peer_node_id;
        service_epoch.read(hdr.edgeshift.epoch, (bit<32>)meta.offload_service_id);
        hdr.edgeshift.cpu_load_bp = peer.cpu_load_bp;
        hdr.edgeshift.mem_load_bp = peer.mem_load_bp;
        hdr.edgeshift.inflight_requests = peer.inflight_requests;
        node_overload_streak.write((bit<32>)hdr.edgeshift.node_id, 0);
        meta.is_advice = true;
    }
}

// CLAIM from an authenticated node: the atomic cutover. A CLAIM whose epoch is greater than the
// service's epoch makes the claimant the owner (CLAIM_ACCEPTED); any other is answered CLAIM_STALE
// and changes nothing. Both answers carry the owner and epoch in force. The caller turns it around.
control HandleClaim(inout headers_t hdr) {

    // Read, compare and write in one action: of two racing CLAIMs, exactly one wins.
    action decide_claim() {
        bit<32> service = (bit<32>)hdr.edgeshift.service_id;
        nodeId_t owner;
        service_owner.read(owner, service);
        bit<32> epoch;
        service_epoch.read(epoch, service);
        if (hdr.edgeshift.epoch > epoch) {
            owner = hdr.edgeshift.node_id;
            epoch = hdr.edgeshift.epoch;
            service_owner.write(service, owner);
            service_epoch.write(service, epoch);
            hdr.edgeshift.packet_type = PACKET_TYPE_CLAIM_ACCEPTED;
        } else {
            hdr.edgeshift.packet_type = PACKET_TYPE_CLAIM_STALE;
        }
        hdr.edgeshift.target_node_id = owner;
        hdr.edgeshift.epoch = epoch;
    }

    apply {
        decide_claim();
    }
}

// A request that hit service_table: chooses the node that serves it into meta.node_id, or leaves
// NO_NODE and sets meta.drop_reason. A stateful service goes to its owner whether live or not (only
// a CLAIM moves it); a stateless one to the less loaded live node of its pair (node_a on a tie).
control SteerRequest(inout metadata_t meta, in timeUs_t now_us) {
    ReadNodeState() read_node_a_state;
    ReadNodeState() read_node_b_state;

    apply {
        if (meta.is_stateful_service) {
            service_owner.read(meta.node_id, (bit<32>)meta.service_id);
            if (meta.node_id == NO_NODE) {
                meta.drop_reason = DROP_NO_OWNER;
            }
            return;
        }
        node_state_t node_a;
        node_state_t node_b;
        read_node_a_state.apply(meta.balance_node_a, meta.policy, now_us, node_a);
        read_node_b_state.apply(meta.balance_node_b, meta.policy, now_us, node_b);
        meta.node_id = NO_NODE;
        if (node_a.is_live && node_b.is_live) {
            meta.node_id = meta.balance_node_a;
            if (node_b.load_bp < node_a.load_bp) {
                meta.node_id = meta.balance_node_b;
            }
        } else if (node_a.is_live) {
            meta.node_id = meta.balance_node_a;
        } else if (node_b.is_live) {
            meta.node_id = meta.balance_node_b;
        } else {
            meta.drop_reason = DROP_NO_LIVE_NODE;
        }
    }
}

// The ingress pipeline, in the order of docs/protocol.md §2: reject malformed packets, handle
// EdgeShift control packets from authenticated nodes, steer requests to services, give replies their
// VIP back, forward the rest by LPM. The tables are declared here, with the names the control plane
// uses; each is applied at exactly one place.
control EdgeShiftIngress(inout headers_t hdr,
                         inout metadata_t meta,
                         inout standard_metadata_t standard_metadata) {
    TrackNodeLoad() track_node_load;
    DecideOffloadAdvice() decide_offload_advice;
    HandleClaim() handle_claim;
    SteerRequest() steer_request;

    // Drops the packet, counting it under meta.drop_reason.
    action drop_packet() {
        drop_reasons.count((bit<32>)meta.drop_reason);
        mark_to_drop(standard_metadata);
    }

    // A report that leads to no advice has done its job: dropped, but not counted as a drop reason.
    action consume_report() {
        mark_to_drop(standard_metadata);
    }

    // ADVICE and CLAIM answers go back where the node's packet came from. TTL is unchanged; the
    // deparser recomputes the IPv4 checksum and the UDP checksum is left out (0, legal for IPv4).
    action turn_around() {
        macAddr_t ethernet_dst = hdr.ethernet.dst_addr;
        hdr.ethernet.dst_addr = hdr.ethernet.src_addr;
        hdr.ethernet.src_addr = ethernet_dst;
        ip4Addr_t ipv4_dst = hdr.ipv4.dst_addr;
        hdr.ipv4.dst_addr = hdr.ipv4.src_addr;
        hdr.ipv4.src_addr = ipv4_dst;
        bit<16> udp_dst = hdr.udp.dst_port;
        hdr.udp.dst_port = hdr.udp.src_port;
        hdr.udp.src_port = udp_dst;
        hdr.udp.checksum = 0;
        standard_metadata.egress_spec = standard_metadata.ingress_port;
    }

    // Sends a request to the node chosen by SteerRequest (its node_table entry). The UDP destination
    // port is kept: a service listens on the same port on every node.
    action steer_to_node() {
        hdr.ethernet.src_addr = hdr.ethernet.dst_addr;
        hdr.ethernet.dst_addr = meta.node_mac_addr;
        hdr.ipv4.dst_addr = meta.node_ipv4_addr;
        hdr.ipv4.ttl = hdr.ipv4.ttl - 1;
        hdr.udp.checksum = 0;
        standard_metadata.egress_spec = meta.node_port;
    }

    // --- policy_table -------------------------------------------------------------------------
    action set_policy(loadBp_t load_high_bp,
                      loadBp_t load_low_bp,
                      bit<8> overload_reports,
                      bit<32> liveness_reports,
                      timeUs_t liveness_timeout_us) {
        meta.policy.load_high_bp = load_high_bp;
        meta.policy.load_low_bp = load_low_bp;
        meta.policy.overload_reports = overload_reports;
        meta.policy.liveness_reports = liveness_reports;
        meta.policy.liveness_timeout_us = liveness_timeout_us;
    }

    // Keyless: the policy is its default action, changed with table_set_default (topology `policy`).
    // overload_reports: K consecutive reports at or above load_high_bp before ADVICE; a peer must be
    // at or below load_low_bp to receive work; liveness_reports / liveness_timeout_us (0 = off)
    // define live(n).
    table policy_table {
        actions = {
            set_policy;
        }
        default_action = set_policy(8000, 5000, 3, 64, 0);
    }

    // --- node_table -----------------------------------------------------------------------------
    action set_node(ip4Addr_t ipv4_addr,
                    macAddr_t mac_addr,
                    egressSpec_t port,
                    nodeId_t peer_node_id,
                    serviceId_t offload_service_id) {
        meta.node_ipv4_addr = ipv4_addr;
        meta.node_mac_addr = mac_addr;
        meta.node_port = port;
        meta.peer_node_id = peer_node_id;
        meta.offload_service_id = offload_service_id;
    }

    // Key meta.node_id: the sender of a control packet, or the node chosen for a request. One entry
    // per node (topology `nodes`): its address, MAC and switch port authenticate its reports and
    // steer requests to it; its peer and offload service drive DecideOffloadAdvice.
    table node_table {
        key = {
            meta.node_id: exact;
        }
        actions = {
            set_node;
            NoAction;
        }
        size = NODE_COUNT;
        default_action = NoAction();
    }

    // --- service_table --------------------------------------------------------------------------
    action steer_to_owner(serviceId_t service_id) {
        meta.is_stateful_service = true;
        meta.service_id = service_id;
    }

    action balance_between(serviceId_t service_id, nodeId_t node_a, nodeId_t node_b) {
        meta.is_stateful_service = false;
        meta.service_id = service_id;
        meta.balance_node_a = node_a;
        meta.balance_node_b = node_b;
    }

    // Key (VIP, UDP port) of a service (topology `services`): a stateful service is steered to its
    // owner, a stateless one balanced between two nodes.
    table service_table {
        key = {
            hdr.ipv4.dst_addr: exact;
            hdr.udp.dst_port: exact;
        }
        actions = {
            steer_to_owner;
            balance_between;
            NoAction;
        }
        size = SERVICE_COUNT;
        default_action = NoAction();
    }

    // --- reply_table ----------------------------------------------------------------------------
    action set_vip_source(ip4Addr_t vip) {
        hdr.ipv4.src_addr = vip;
        hdr.udp.checksum = 0;
    }

    // Key (node address, service port): one entry per node and service (topology), so a reply
    // leaves with the VIP the client sent its request to.
    table reply_table {
        key = {
            hdr.ipv4.src_addr: exact;
            hdr.udp.src_port: exact;
        }
        actions = {
            set_vip_source;
            NoAction;
        }
        size = 1024;
        default_action = NoAction();
    }

    // --- ipv4_lpm -------------------------------------------------------------------------------
    action ipv4_forward(macAddr_t dst_mac, egressSpec_t port) {
        hdr.ethernet.src_addr = hdr.ethernet.dst_addr;
        hdr.ethernet.dst_addr = dst_mac;
        standard_metadata.egress_spec = port;
        hdr.ipv4.ttl = hdr.ipv4.ttl - 1;
    }

    action drop() {
        drop_reasons.count((bit<32>)DROP_NO_ROUTE);
        mark_to_drop(standard_metadata);
    }

    // Plain IPv4 forwarding (topology `routes`); a miss drops (no route).
    table ipv4_lpm {
        key = {
            hdr.ipv4.dst_addr: lpm;
        }
        actions = {
            ipv4_forward;
            drop;
        }
        size = 1024;
        default_action = drop();
    }

    apply {
        // 1. Malformed. BMv2 runs ingress even after a parser error, so this comes first.
        if (standard_metadata.parser_error != error.NoError) {
            meta.drop_reason = DROP_MALFORMED;
            drop_packet();
            return;
        }
        if (standard_metadata.checksum_error == 1) {
            meta.drop_reason = DROP_IPV4_CHECKSUM;
            drop_packet();
            return;
        }
        if (!hdr.ipv4.isValid()) {
            meta.drop_reason = DROP_NOT_IPV4;  // no layer-2 switching
            drop_packet();
            return;
        }
        policy_table.apply();

        // Choose the node_table key: the sender of a control packet, or the node for a request.
        if (hdr.edgeshift.isValid()) {
            meta.node_id = hdr.edgeshift.node_id;
        } else if (hdr.udp.isValid()) {
            if (service_table.apply().hit) {
                meta.is_service_request = true;
                steer_request.apply(meta, standard_metadata.ingress_global_timestamp);
                if (meta.node_id == NO_NODE) {
                    drop_packet();  // no owner, or no live node (reason set by SteerRequest)
                    return;
                }
            }
        }

        if (hdr.edgeshift.isValid() || meta.is_service_request) {
            if (!node_table.apply().hit) {
                if (meta.is_service_request) {
                    meta.drop_reason = DROP_NODE_NOT_IN_TABLE;
                } else {
                    meta.drop_reason = DROP_UNKNOWN_SENDER;
                }
                drop_packet();
                return;
            }
            // 3. Request: rewrite towards the chosen node; it never reaches forwarding.
            if (meta.is_service_request) {
                steer_to_node();
                return;
            }
            // 2. Control packet: the sender must use its own address and switch port.
            if (hdr.ipv4.src_addr != meta.node_ipv4_addr
                || standard_metadata.ingress_port != meta.node_port) {
                meta.drop_reason = DROP_UNKNOWN_SENDER;  // spoofed
                drop_packet();
                return;
            }
            if (hdr.edgeshift.packet_type == PACKET_TYPE_METRICS) {
                track_node_load.apply(hdr, meta, standard_metadata.ingress_global_timestamp);
                if (!meta.is_report_accepted) {
                    meta.drop_reason = DROP_STALE_SEQUENCE;
                    drop_packet();
                    return;
                }
                decide_offload_advice.apply(hdr, meta, standard_metadata.ingress_global_timestamp);
                if (meta.is_advice) {
                    turn_around();
                } else {
                    consume_report();
                }
            } else if (hdr.edgeshift.packet_type == PACKET_TYPE_CLAIM) {
                handle_claim.apply(hdr);
                turn_around();
            } else {
                // ADVICE and CLAIM answers are sent by this program only.
                meta.drop_reason = DROP_TYPE_NOT_ACCEPTED;
                drop_packet();
            }
            return;
        }

        // 4. Reply from a service: the client sees the VIP it sent its request to.
        if (hdr.udp.isValid()) {
            reply_table.apply();
        }
        // 5. Everything else: plain IPv4 forwarding.
        ipv4_lpm.apply();
    }
}

/*************************************************************************
****************  E G R E S S   P R O C E S S I N G   *******************
*************************************************************************/

// Every decision is taken in ingress.
control EdgeShiftEgress(inout headers_t hdr,
                        inout metadata_t meta,
                        inout standard_metadata_t standard_metadata) {
    apply { }
}

/*************************************************************************
*************   C H E C K S U M    C O M P U T A T I O N   **************
*************************************************************************/

// The IPv4 header checksum is recomputed for every packet that leaves (TTL or addresses changed).
// The UDP checksum is not computed: the pipeline sets it to 0 wherever it rewrites an address.
control EdgeShiftComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        update_checksum(
            hdr.ipv4.isValid(),
            { hdr.ipv4.version,
              hdr.ipv4.ihl,
              hdr.ipv4.diffserv,
              hdr.ipv4.total_len,
              hdr.ipv4.identification,
              hdr.ipv4.flags,
              hdr.ipv4.frag_offset,
              hdr.ipv4.ttl,
              hdr.ipv4.protocol,
              hdr.ipv4.src_addr,
              hdr.ipv4.dst_addr },
            hdr.ipv4.hdr_checksum,
            HashAlgorithm.csum16);
    }
}

/*************************************************************************
***********************  D E P A R S E R  *******************************
*************************************************************************/

control EdgeShiftDeparser(packet_out packet, in headers_t hdr) {
    apply {
        packet.emit(hdr.ethernet);
        packet.emit(hdr.ipv4);
        packet.emit(hdr.udp);
        packet.emit(hdr.edgeshift);
    }
}

/*************************************************************************
***********************  S W I T C H  *******************************
*************************************************************************/

V1Switch(
    EdgeShiftParser(),
    EdgeShiftVerifyChecksum(),
    EdgeShiftIngress(),
    EdgeShiftEgress(),
    EdgeShiftComputeChecksum(),
    EdgeShiftDeparser()
) main;
