import NIOCore

// A ring's socket that fails is bound again, so that a ring whose network comes back can
// carry traffic again (the redundant-ring layer then re-enables it). NIO closes a datagram
// channel on a send error it cannot recover from (ENETUNREACH, EADDRNOTAVAIL when the
// address left the interface, EPERM from a firewall...; EMSGSIZE and EHOSTUNREACH only fail
// the one write). corosync re-checks a downed interface every `downcheck` ms; so do we.
extension UDPTransport {
    /// Watches a ring's sockets for a close the transport did not ask for. On the loop.
    func watch(_ channels: RingChannels, ringIndex: Int) {
        for channel in [channels.unicast] + (channels.multicast.map { [$0] } ?? []) {
            channel.closeFuture.whenComplete { _ in
                self.socketClosed(ObjectIdentifier(channel), ringIndex: ringIndex)
            }
        }
    }

    private func socketClosed(_ closed: ObjectIdentifier, ringIndex: Int) {
        guard !state.value.isClosed, let current = state.value.rings[ringIndex].channels else { return }
        let isCurrent = ObjectIdentifier(current.unicast) == closed
            || current.multicast.map { ObjectIdentifier($0) == closed } == true
        // The other socket of a failed ring is closed below, and reports here too: ignored.
        guard isCurrent else { return }
        state.value.rings[ringIndex].channels = nil
        state.value.rings[ringIndex].counters.socketFailures &+= 1
        // Both sockets of the ring are bound again together, which keeps the plan simple.
        current.closeAll()
        scheduleRebind(ringIndex: ringIndex)
    }

    private func scheduleRebind(ringIndex: Int) {
        eventLoop.scheduleTask(in: rebindInterval) {
            guard !self.state.value.isClosed else { return }
            let plan = self.plans[ringIndex]
            // The bind runs as a task on this loop (EventLoopTaskExecutor.swift), not on the
            // global pool: a pool kept busy by other work (a full parallel test run) delayed
            // a rebind by more than 10 s, and nothing here needs another thread.
            let bound = self.eventLoop.makePromise(of: RingChannels.self)
            Task(executorPreference: EventLoopTaskExecutor(self.eventLoop)) {
                do {
                    bound.succeed(try await Self.bindRing(plan, eventLoop: self.eventLoop, state: self.state,
                                                          receiver: self.receiver))
                } catch {
                    bound.fail(error)
                }
            }
            bound.futureResult.whenComplete { result in
                switch result {
                case .success(let channels):
                    if self.state.value.isClosed {
                        channels.closeAll()
                        return
                    }
                    self.state.value.rings[ringIndex].channels = channels
                    self.state.value.rings[ringIndex].counters.socketRebinds &+= 1
                    self.watch(channels, ringIndex: ringIndex)
                case .failure:
                    self.state.value.rings[ringIndex].counters.rebindFailures &+= 1
                    self.scheduleRebind(ringIndex: ringIndex)
                }
            }
        }
    }

    /// The ring's current unicast socket, for tests that make it fail. On the loop.
    func unicastChannel(ringIndex: Int) -> (any Channel)? {
        state.value.rings[ringIndex].channels?.unicast
    }
}
