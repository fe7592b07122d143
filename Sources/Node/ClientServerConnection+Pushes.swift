import NIOCore
import RESP

extension ClientConnectionHandler {
    /// Streams each started source's pushes to the channel, each in a task on its loop.
    func startPushes(_ sources: [CommandOutput.StartedPushes], on channel: any Channel) {
        for source in sources {
            let name = ByteBuffer(string: source.channel)
            // On the channel's loop (EventLoopTaskExecutor.swift): no thread switch per push.
            let sink = ProcessGroupChannelSink(channel: channel, name: name)
            let task = Task(executorPreference: EventLoopTaskExecutor(channel.eventLoop)) {
                do {
                    if let batched = source.runBatched {
                        // The sink lets a process group's reader hand the writing over to
                        // the node (ProcessGroupDirectPush.swift).
                        try await ProcessGroupChannelSink.$current.withValue(sink) {
                            try await batched { payloads in
                                CPGTrace.shared?.record(.pushResumed, UInt64(payloads.count))
                                var push = ByteBuffer()
                                for payload in payloads { push.writeRESPPushMessage(channel: name, payload: payload) }
                                let written: EventLoopFuture<Void> = channel.writeAndFlush(push)
                                CPGTrace.shared?.record(.pushWritten)
                                try await written.get()
                            }
                        }
                    } else {
                        try await source.run { payload in
                            var push = ByteBuffer()
                            push.writeRESPPushMessage(channel: name, payload: payload)
                            try await channel.writeAndFlush(push).get()
                        }
                    }
                } catch {
                    // The connection broke: end it.
                    channel.close(promise: nil)
                }
            }
            pushTasks.append(task)
        }
    }
}
