import Foundation
import NIOCore
import Totem

/// The runtime's side of `TokenPacer`: Totem packets reach the core through it, and the
/// pacer's timer and end-of-turn release run on the loop.
@available(macOS 15, *)
extension NodeRuntime {
    /// `TOTEMKV_TOKEN_HOLD_US` (0: off) and `TOTEMKV_TOKEN_HOLD_BUSY` override the standard
    /// pacing, for experiments; anything unparsable keeps the standard value.
    static func tokenPacerSettings(environment: [String: String] = ProcessInfo.processInfo.environment) -> TokenPacer.Settings {
        var settings = TokenPacer.Settings.standard
        if let text = environment["TOTEMKV_TOKEN_HOLD_US"], let value = Int64(text), value >= 0, value <= 100_000 {
            settings.holdMicroseconds = value
        }
        if let text = environment["TOTEMKV_TOKEN_HOLD_BUSY"], let value = Int(text), value >= 1 {
            settings.busyRequestsMin = value
        }
        return settings
    }

    /// A packet the redundant-ring layer hands to Totem.
    func totemPacketArrived(_ packet: TotemPacket) {
        let isBusy = waiting.count >= tokenPacer.settings.busyRequestsMin
        if tokenPacer.passesThrough(isBusy: isBusy) {
            enqueue(.core(.packetReceived(packet, at: now())))
            return
        }
        let sendQueueEmpty = core.totem.sendQueueFrameCount == 0
        performPacer(tokenPacer.step(.packetArrived(packet, isBusy: isBusy, sendQueueEmpty: sendQueueEmpty)))
    }

    /// After a drain: if a token is held and this node now has something to broadcast, the
    /// token goes once the loop turn's other input (more client requests) is in.
    func releaseHeldTokenIfSending() {
        guard tokenPacer.isHolding, core.totem.sendQueueFrameCount > 0 else { return }
        performPacer(tokenPacer.step(.broadcastQueued))
    }

    func performPacer(_ actions: [TokenPacer.Action]) {
        for action in actions {
            switch action {
            case .deliver(let packet):
                enqueue(.core(.packetReceived(packet, at: now())))
            case .startHoldTimer(let generation, let microseconds):
                tokenHoldTimer?.cancel()
                tokenHoldTimer = eventLoop.scheduleTask(in: .microseconds(microseconds)) {
                    guard !self.isStopped else { return }
                    self.performPacer(self.tokenPacer.step(.holdTimerFired(generation: generation)))
                }
            case .cancelHoldTimer:
                tokenHoldTimer?.cancel()
                tokenHoldTimer = nil
            case .releaseAtTurnEnd:
                // `execute` from the loop runs after the I/O events of this turn.
                eventLoop.execute {
                    guard !self.isStopped else { return }
                    self.performPacer(self.tokenPacer.step(.turnEnded))
                }
            }
        }
    }
}
