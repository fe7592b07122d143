import Replication
import Testing
@testable import Node

/// The loop's held process-group requests (ProcessGroupHeldRequests.swift) and the inbox's
/// scheduling and byte bound (ProcessGroupInbox.swift).
struct ProcessGroupHeldRequestsTests {
    struct Request: ProcessGroupQueuedRequest, Equatable {
        var connection: ConnectionID
        var admittedBytes: Int?
        var name: String
    }

    static func mcast(_ connection: UInt64, _ bytes: Int, _ name: String) -> Request {
        Request(connection: ConnectionID(connection), admittedBytes: bytes, name: name)
    }

    static func waiting(_ connection: UInt64, _ name: String) -> Request {
        Request(connection: ConnectionID(connection), admittedBytes: nil, name: name)
    }

    /// Routes `items` the way the loop does; returns the names stepped, in order.
    static func route(_ items: [Request], _ held: inout ProcessGroupHeldRequests<Request>, room: Int) -> [String] {
        var stepped: [String] = []
        for item in items where !held.hold(item, canQueue: { $0 <= room }) { stepped.append(item.name) }
        return stepped
    }

    @Test func onlyTheHeldConnectionWaitsAndKeepsItsOrder() {
        var held = ProcessGroupHeldRequests<Request>()
        // Connection 1's large multicast does not fit: it and its later leave wait; connection
        // 2's join, small multicast and close go on.
        let first = [Self.mcast(1, 1 << 20, "big"), Self.waiting(2, "join2"), Self.mcast(1, 10, "small1"),
                     Self.mcast(2, 10, "small2"), Self.waiting(1, "leave1")]
        #expect(Self.route(first, &held, room: 1000) == ["join2", "small2"])
        #expect(held.items.map(\.name) == ["big", "small1", "leave1"])
        #expect(held.smallestHeadBytes == 1 << 20)
        // A later drain: connection 2 is still stepped, connection 1 still waits.
        let later = [Self.waiting(2, "close2"), Self.waiting(1, "close1")]
        #expect(Self.route(later, &held, room: 1000) == ["close2"])
        #expect(held.items.map(\.name) == ["big", "small1", "leave1", "close1"])
        // Still no room: a retry holds everything again, in order.
        #expect(Self.route(held.takeAll(), &held, room: 1000) == [])
        #expect(held.items.map(\.name) == ["big", "small1", "leave1", "close1"])
        // Room: connection 1's requests go in the order it made them.
        #expect(Self.route(held.takeAll(), &held, room: 1 << 20) == ["big", "small1", "leave1", "close1"])
        #expect(held.isEmpty)
        #expect(held.smallestHeadBytes == Int.max)
    }

    @Test func theSmallestHeldHeadDecidesTheRetry() {
        var held = ProcessGroupHeldRequests<Request>()
        let items = [Self.mcast(1, 5000, "a"), Self.mcast(2, 3000, "b"), Self.mcast(2, 10, "b2")]
        #expect(Self.route(items, &held, room: 100) == [])
        #expect(held.smallestHeadBytes == 3000)
        // Room for b only: connection 2 goes, connection 1 stays held.
        #expect(Self.route(held.takeAll(), &held, room: 4000) == ["b", "b2"])
        #expect(held.items.map(\.name) == ["a"])
        #expect(held.smallestHeadBytes == 5000)
    }

    @available(macOS 15, *)
    @Test func aDrainThatTookEverythingEndsSoTheNextAppendSchedulesOne() throws {
        let inbox = ProcessGroupInbox()
        let key = ProcessGroupLinks.Key(connection: ConnectionID(1), group: try ProcessGroupName("g"))
        inbox.memberAdded(key)
        let (admission, needsDrain) = inbox.admit(key, payload: [1])
        #expect(admission == .admitted && needsDrain)
        #expect(inbox.take().count == 1)
        // Whatever the loop holds, the drain is over once the inbox is empty: the next
        // request (another connection's, here) schedules a drain of its own.
        #expect(inbox.take().isEmpty)
        let other = ProcessGroupLinks.Key(connection: ConnectionID(2), group: key.group)
        inbox.memberAdded(other)
        #expect(inbox.admit(other, payload: [2]).needsDrain)
    }

    @available(macOS 15, *)
    @Test func answeredBytesStayCountedUntilReleased() throws {
        let inbox = ProcessGroupInbox()
        let key = ProcessGroupLinks.Key(connection: ConnectionID(1), group: try ProcessGroupName("g"))
        inbox.memberAdded(key)
        let payload = [UInt8](repeating: 7, count: ProcessGroupMessage.payloadBytesMax)
        #expect(inbox.admit(key, payload: payload).0 == .admitted)
        let taken = inbox.take()
        #expect(taken.count == 1)
        // Taken by the loop (and perhaps held there) but not handed to Totem: still counted.
        #expect(inbox.admit(key, payload: [UInt8](repeating: 1, count: 2000)).0 == .mustWait)
        inbox.release(taken.compactMap(\.admittedBytes).reduce(0, +))
        #expect(inbox.admit(key, payload: [UInt8](repeating: 1, count: 2000)).0 == .admitted)
    }
}
