import Basics
import NIOCore
import Testing
@testable import Node

/// Where the copies of one datagram go (UDPTransportState.Targets): built without an array
/// per send, so the order and the exclusion of the local node are checked here.
@Suite("UDP transport: a send's targets")
struct UDPTransportTargetsTests {
    static func peer(_ id: UInt32) throws -> Peer {
        let address = try SocketAddress(ipAddress: "127.0.0.\(id)", port: 5405)
        return Peer(nodeID: NodeID(id), address: address, host: HostKey(address))
    }

    @Test func aBroadcastGoesToEveryListedPeerButTheLocalNodeInListOrder() throws {
        let peers = try [1, 2, 3, 4].map { try Self.peer($0) }
        let targets = UDPTransportState.Targets.peers(peers, except: NodeID(2))
        #expect(targets.addresses == [peers[0].address, peers[2].address, peers[3].address])
        // A node that is not listed excludes nobody.
        #expect(UDPTransportState.Targets.peers(peers, except: NodeID(9)).addresses == peers.map(\.address))
    }

    @Test func aUnicastOrAGroupIsOneAddress() throws {
        let address = try Self.peer(3).address
        #expect(UDPTransportState.Targets.one(address).addresses == [address])
    }
}
