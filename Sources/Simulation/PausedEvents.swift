/// A paused node: the events that reach it while it does not run (its socket buffer and
/// its overdue timers), bounded like a socket buffer, replayed in arrival order on resume.
/// Shared by the Totem and the full-node simulators.
public struct PausedEvents<Event> {
    /// Beyond this many, further events are dropped (a full socket buffer).
    public static var heldEventsMax: Int { 20_000 }

    public private(set) var isPaused = false
    private var held: [Event] = []

    public init() {}

    public var heldCount: Int { held.count }

    public mutating func pause() { isPaused = true }

    /// Keeps `event` for later if paused; false when the node runs and should handle it now.
    public mutating func holdIfPaused(_ event: Event) -> Bool {
        guard isPaused else { return false }
        if held.count < Self.heldEventsMax { held.append(event) }
        return true
    }

    /// Unpauses and hands back what was held, oldest first.
    public mutating func resume() -> [Event] {
        isPaused = false
        defer { held = [] }
        return held
    }

    /// Forgets everything (a crash or a restart).
    public mutating func reset() {
        isPaused = false
        held = []
    }
}
