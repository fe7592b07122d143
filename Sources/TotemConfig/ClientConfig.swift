/// `client { ... }`: TotemKV's own section for the client (RESP) server.
///
/// Ports: node number i of the nodelist (0-based, in file order) listens on `port + i`
/// unless its node entry sets `client_port`. A whole cluster on one host (127.0.0.1,
/// 127.0.0.2, ...) thus needs no per-node setting and `redis-cli -p 6379`, `-p 6380`, ...
/// reach nodes 0, 1, ...; nodes on separate hosts may set `client_port: 6379` each.
public struct ClientConfig: Hashable, Sendable {
    /// `bind_address`: where every node's client server listens, unless its node entry sets
    /// `client_address`.
    public var bindAddress: String
    /// `port`: the base port (see above).
    public var port: UInt16
    /// `password`: clients must `AUTH` with it when set.
    public var password: String?

    public init(bindAddress: String = "127.0.0.1", port: UInt16 = 6379, password: String? = nil) {
        self.bindAddress = bindAddress
        self.port = port
        self.password = password
    }

    static func read(_ section: ConfigSection, warnings: inout [ConfigWarning]) throws(ConfigError) -> ClientConfig {
        if let sub = section.sections.first {
            throw ConfigError("unknown section \"\(sub.name)\" in client; expected keys only", at: sub.location)
        }
        let items = try SectionItems(section, path: "client", implemented: ["bind_address", "port", "password"],
                                     corosyncOnly: [:], warnings: &warnings)
        var client = ClientConfig()
        if let item = items["bind_address"] { client.bindAddress = try ConfigValues.address(item) }
        if let item = items["port"] { client.port = try ConfigValues.integer(item, in: 1...UInt16.max) }
        if let item = items["password"] { client.password = try ConfigValues.nonEmpty(item, what: "a password") }
        return client
    }
}
