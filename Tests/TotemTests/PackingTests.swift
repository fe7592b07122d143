import Basics
import Testing
@testable import Totem

@Suite struct PackingTests {
    func unpackAll(_ packer: inout Packer, _ reassembler: inout Reassembler) -> ([[UInt8]], [Reassembler.Problem]) {
        var payloads: [[UInt8]] = []
        var problems: [Reassembler.Problem] = []
        while let frame = packer.popFirst() {
            #expect(frame.count <= packer.frameBytesMax)
            reassembler.unpack(frame, from: NodeID(1), deliver: { payloads.append(Array($0)) }, problem: { problems.append($0) })
        }
        return (payloads, problems)
    }

    @Test func smallPayloadsShareAFrame() {
        var packer = Packer(frameBytesMax: 1_404, framesMax: 100)
        let payloads = (0..<50).map { [UInt8](repeating: UInt8($0), count: 20) }
        for p in payloads { #expect(packer.submit(p) == nil) }
        #expect(packer.count == 1)
        var reassembler = Reassembler()
        let (out, problems) = unpackAll(&packer, &reassembler)
        #expect(out == payloads && problems.isEmpty)
    }

    /// A packed payload is delivered as a slice of its frame (no copy per payload): each
    /// slice covers exactly the payload's bytes, at the offset of its record in the frame.
    @Test func packedPayloadsAreSlicesOfTheirFrame() {
        var packer = Packer(frameBytesMax: 1_404, framesMax: 100)
        let payloads: [[UInt8]] = [[1, 2, 3], [], [4, 5], [UInt8](repeating: 6, count: 300)]
        for p in payloads { #expect(packer.submit(p) == nil) }
        let frame = packer.popFirst()!
        var reassembler = Reassembler()
        var slices: [ArraySlice<UInt8>] = []
        reassembler.unpack(frame, from: NodeID(1), deliver: { slices.append($0) }, problem: { Issue.record("unexpected \($0)") })
        #expect(slices.map(Array.init) == payloads)
        var offset = 0
        for (slice, payload) in zip(slices, payloads) {
            offset += Packing.recordHeaderBytes
            #expect(slice.startIndex == offset && slice.count == payload.count)
            offset += payload.count
        }
        #expect(offset == frame.count)
    }

    @Test func aOneMebibytePayloadIsFragmentedAndReassembled() {
        var packer = Packer(frameBytesMax: 1_404, framesMax: 10)
        let big = (0..<Packing.payloadBytesMax).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(packer.submit([1, 2, 3]) == nil)
        #expect(packer.submit(big) == nil)
        #expect(packer.submit([4]) == nil)
        #expect(packer.count > 700)
        var reassembler = Reassembler()
        let (out, problems) = unpackAll(&packer, &reassembler)
        #expect(out == [[1, 2, 3], big, [4]] && problems.isEmpty)
        #expect(packer.submit(big + [0]) == .tooLarge)
    }

    @Test func aConfigurationChangeCutsAFragmentedPayloadCleanly() {
        var packer = Packer(frameBytesMax: 200, framesMax: 100)
        let big = [UInt8](repeating: 9, count: 1_000)
        #expect(packer.submit(big) == nil)
        #expect(packer.submit([5]) == nil)
        var reassembler = Reassembler()
        // The first two fragments went out before the change...
        for _ in 0..<2 {
            reassembler.unpack(packer.popFirst()!, from: NodeID(1), deliver: { _ in Issue.record("nothing is complete") },
                               problem: { Issue.record("unexpected \($0)") })
        }
        // ...then the sender drops the rest and every receiver its incomplete payload.
        #expect(packer.dropLeadingContinuations() == 4)
        #expect(reassembler.dropIncomplete() == 1)
        let (out, problems) = unpackAll(&packer, &reassembler)
        #expect(out == [[5]] && problems.isEmpty)
    }

    @Test func malformedFramesAndOrphanFragmentsAreReportedNotDelivered() {
        var reassembler = Reassembler()
        var problems: [Reassembler.Problem] = []
        var delivered = 0
        reassembler.unpack([0, 200, 0, 0, 0, 1], from: NodeID(1), deliver: { _ in delivered += 1 }, problem: { problems.append($0) })
        reassembler.unpack([9, 0, 0, 0, 0], from: NodeID(1), deliver: { _ in delivered += 1 }, problem: { problems.append($0) })
        reassembler.unpack([3, 1, 0, 0, 0, 7], from: NodeID(2), deliver: { _ in delivered += 1 }, problem: { problems.append($0) })
        reassembler.unpack([0, 1, 0], from: NodeID(1), deliver: { _ in delivered += 1 }, problem: { problems.append($0) })
        #expect(delivered == 0)
        #expect(problems == [.malformedFrame, .malformedFrame, .orphanFragment, .malformedFrame])
    }

    @Test func aFullSendQueueRefuses() {
        var packer = Packer(frameBytesMax: 200, framesMax: 1)
        var refusals = 0
        for _ in 0..<10_000 where packer.submit([UInt8](repeating: 1, count: 190)) == .queueFull { refusals += 1 }
        #expect(refusals > 0)
        #expect(packer.count == packer.framesMax)
    }

    /// `hasRoom` (what a shell checks before submitting something it already answered)
    /// says true exactly when `submit` of that size would not be refused, and stays true
    /// for anything smaller, whatever the queue holds.
    @Test func hasRoomAgreesWithSubmit() {
        var random = SeededGenerator(seed: 7)
        for _ in 0..<20 {
            var packer = Packer(frameBytesMax: 300, framesMax: 1)
            // Nearly full, so that both answers come up.
            while packer.count + 10 < packer.framesMax { _ = packer.submit([UInt8](repeating: 1, count: 290)) }
            var refused = 0
            for _ in 0..<200 {
                let size = Int.random(in: 0...1_200, using: &random)
                let smaller = Int.random(in: 0...size, using: &random)
                let room = packer.hasRoom(payloadBytes: size)
                if room { #expect(packer.hasRoom(payloadBytes: smaller)) }
                var copy = packer
                let refusal = copy.submit([UInt8](repeating: 2, count: size))
                #expect(room == (refusal != .queueFull), "size \(size), queued \(packer.count)")
                if refusal == .queueFull { refused += 1 }
                if Bool.random(using: &random) { _ = packer.submit([UInt8](repeating: 2, count: size)) }
                if packer.count > 0 && Int.random(in: 0..<4, using: &random) == 0 { _ = packer.popFirst() }
            }
            #expect(refused > 0)
        }
    }
}
