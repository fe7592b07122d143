import TotemConfig

extension TotemOptions.Settings {
    /// The whole-node simulations' Totem settings: a short token (300 ms, no coefficient) so
    /// that partitions and pauses of a few hundred ms change the configuration: more epochs,
    /// syncs and truncations per run.
    static var shortToken: TotemOptions.Settings {
        var s = TotemOptions.Settings()
        s.token = 300
        s.tokenCoefficient = 0
        return s
    }
}
