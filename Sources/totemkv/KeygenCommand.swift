import ArgumentParser
import Node

/// `totemkv keygen`: writes the cluster key that secauth (`crypto_cipher` / `crypto_hash`)
/// authenticates and encrypts packets with, as `corosync-keygen` writes corosync's authkey.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a random cluster key file for secauth.",
        discussion: """
            The key is raw random bytes in a file with mode 0400. Copy the same file to every \
            node and name it with `keyfile:` in the totem section (default \(KeyFile.defaultPath)). \
            A node with another key cannot join: its packets are rejected and counted.
            """)

    @Option(name: [.short, .long], help: "The key file to write.")
    var output: String = KeyFile.defaultPath

    @Option(name: [.short, .long],
            help: "Key size in bytes, \(KeyFile.byteCountMin) to \(KeyFile.byteCountMax).")
    var size: Int = KeyFile.defaultByteCount

    @Flag(name: [.short, .long], help: "Replace an existing key file.")
    var force = false

    func validate() throws {
        guard KeyFile.byteCountRange.contains(size) else {
            throw ValidationError("--size must be \(KeyFile.byteCountMin) to \(KeyFile.byteCountMax) bytes, got \(size)")
        }
    }

    func run() throws {
        let key = try KeyFile.generate(byteCount: size)
        try KeyFile.write(key, to: output, overwrite: force)
        print("wrote a \(size)-byte key to \(output) (mode 0400); copy it to every node")
    }
}
