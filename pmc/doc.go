// Package pmc reads linuxptp's (ptp4l's) state over its management socket,
// the way `pmc -u` does, without running pmc.
//
// It speaks IEEE 1588 management messages plus linuxptp's _NP TLVs over the
// Unix datagram socket ptp4l listens on (uds_address, default
// /var/run/ptp4l). The client can only send GET: there is no way to change
// ptp4l's configuration through this package, so an exporter built on it is
// read-only by construction.
//
// Facts about ptp4l the client relies on (checked against ptp4l 3.1.1):
//   - ptp4l answers to the address the request came from, which must be a
//     filesystem path: replies to abstract sockets get lost across network
//     namespaces. Dial binds one in a private 0700 directory.
//   - ptp4l silently drops requests whose domainNumber differs from its own,
//     so a wrong Config.Domain shows up as a timeout, not as an error reply.
//   - boundaryHops 0 keeps ptp4l from forwarding the GET out of its ports.
//   - A GET to the wildcard port gets one answer per port; DEFAULT_DATA_SET's
//     numberPorts says how many to wait for, so nothing waits a fixed time.
//
// # Where things live
//
//   - client.go: Dial, Close, and exchange, the one request/answer loop:
//     every GET of a batch is sent at once (send), answers are matched to
//     their request by sequenceId and ID (accept) until each has its count,
//     under one read deadline (armDeadline). The typed getters, PortDataSets
//     and Snapshot are built on it.
//   - wire.go: the management message: header and TLV encoding of a GET
//     (appendGet), decoding of an answer with every length checked
//     (decodeMessage).
//   - datasets.go: the datasets as Go structs in the standard's field order,
//     each with UnmarshalBinary and MarshalBinary.
//   - stats.go: linuxptp's little-endian port statistics (PORT_STATS_NP,
//     PORT_SERVICE_STATS_NP).
//   - types.go: identities, port states, time intervals, the one table of
//     management IDs, management errors.
//   - role.go: InferRole, what a ptp4l is doing as a whole (grandmaster,
//     slave, ...) from its ports.
//
// # How a scrape reaches ptp4l
//
// ptpcam_exporter's host collector (collector.HostCollector) and the checks
// (check.ReadHost) call Client.Snapshot: eight GETs in one exchange, the
// port answers counted against DEFAULT_DATA_SET's numberPorts, so a scrape
// costs one round trip and no fixed wait. The collector adds PORT_STATS_NP
// (Client.PortStatsNP) for its message counters. Captured real answers of
// ptp4l 3.1.1 are the seed corpus of FuzzDecode in testdata/fuzz.
package pmc
