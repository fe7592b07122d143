import CMap
import NIOCore
import Replication

/// How a connection hands its requests to a pipelining node: one at a time (`submit`), the
/// writes it parsed in a turn as one request (`send(write:)`, `sendWrites`), the linearizable
/// reads behind one barrier (`sendReads`). Every method runs on the connection's loop.
extension ClientConnectionHandler {
    /// Submits request `index` of slot `number`; its answer comes back to this loop.
    func submit(_ request: ReplicatedNode.ClientRequest, slot number: UInt64, index: Int) {
        guard let pipelined else { return }
        let loop = context?.eventLoop
        pipelined.submit(request) { answer in
            Self.run(on: loop) { self.answered(number, index, answer) }
        }
    }

    /// Runs `body` on the connection's loop: at once when the node answers there (a
    /// connection served on the node's own loop), else handed over. Without a loop (the
    /// connection is gone) the answer has nowhere to go.
    private static func run(on loop: (any EventLoop)?, _ body: @escaping @Sendable () -> Void) {
        guard let loop else { return }
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    /// Adds write request `index` of slot `number` to the turn's write batch (sending the
    /// batch first when it is full); a write that cannot be batched is sent alone, after it.
    func send(write request: ReplicatedNode.ClientRequest, slot number: UInt64, index: Int) {
        guard case .write(let op, let clientID, let clientSeq) = request, WriteBatch.isBatchable(op) else {
            sendWrites()
            submit(request, slot: number, index: index)
            return
        }
        if !writeBatch.hasRoom(for: op, clientID: clientID) { sendWrites() }
        writeBatch.append(op, clientID: clientID, clientSeq: clientSeq, slot: number, index: index)
    }

    /// Sends the turn's writes as one request; each write's answer fills its slot as
    /// `send`'s do.
    func sendWrites() {
        guard !writeBatch.isEmpty, let pipelined else { return }
        let batch = writeBatch.take()
        let loop = context?.eventLoop
        pipelined.submit(batch.request) { answer in
            Self.run(on: loop) { self.answered(batch, answer) }
        }
    }

    func answered(_ batch: WriteBatch, _ answer: ReplicatedNode.ClientReply) {
        if batch.count == 1 {
            let (number, index) = batch.target(0)
            answered(number, index, answer)
            return
        }
        if case .result(.batch(let results), let index) = answer, results.count == batch.count {
            // The usual answer, handed out without building `answers`' array.
            for position in 0..<results.count {
                let (number, slotIndex) = batch.target(position)
                answered(number, slotIndex, .result(results[position], index: index))
            }
            return
        }
        for (position, answer) in batch.answers(answer).enumerated() {
            let (number, index) = batch.target(position)
            answered(number, index, answer)
        }
    }

    /// The writes, then the reads, not sent yet (at most one of the two batches holds
    /// anything: a read joins its batch only after the writes before it were sent, and a
    /// write waits for the reads before it to be answered).
    func sendPending() {
        sendWrites()
        sendReads()
    }

    /// Sends the batched linearizable reads behind one barrier; their answers fill their
    /// slots as `send`'s do.
    func sendReads() {
        guard !readBatch.isEmpty, let pipelined else { return }
        let batch = readBatch.take()
        let loop = context?.eventLoop
        pipelined.submitLinearizableReads(batch.ops) { answers in
            Self.run(on: loop) { self.answered(batch, answers) }
        }
    }

    func answered(_ batch: ReadBatch, _ answers: [ReplicatedNode.ClientReply]) {
        for position in 0..<min(batch.count, answers.count) {
            let (number, index) = batch.target(position)
            answered(number, index, answers[position])
        }
    }
}
