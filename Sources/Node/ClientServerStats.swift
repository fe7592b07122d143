import NIOConcurrencyHelpers

/// Counts shared by a server's connections, for INFO (clients, stats). Updated once per
/// connection and once per batch of requests, so the lock is not on the per-request path.
final class ClientServerStats: Sendable {
    struct Counts: Sendable {
        var connectedClients = 0
        var connectionsReceived: UInt64 = 0
        var commandsProcessed: UInt64 = 0
        var protocolErrors: UInt64 = 0
    }

    private let counts = NIOLockedValueBox(Counts())

    var snapshot: Counts { counts.withLockedValue { $0 } }

    func connectionOpened() {
        counts.withLockedValue {
            $0.connectedClients += 1
            $0.connectionsReceived &+= 1
        }
    }

    func connectionClosed() { counts.withLockedValue { $0.connectedClients -= 1 } }

    func processed(commands: Int, protocolErrors: Int) {
        guard commands > 0 || protocolErrors > 0 else { return }
        counts.withLockedValue {
            $0.commandsProcessed &+= UInt64(commands)
            $0.protocolErrors &+= UInt64(protocolErrors)
        }
    }
}
